// Audit 5: conformance to the format specifications and to what independent SIEM-side parsers do
// with the agent's real output (bin/siem-agent, records served by the emulator), not to the
// project's own parsers in test/helpers/parsers.ts (they could share a misreading).
//
// References (public texts, cited per test):
// - ArcSight "CEF Implementation Standard" v27 (SmartConnectors 25.1), as extracted in
//   tenzir/skills skills/tenzir-cef/{extensions.yaml,docs/overview.md}: key types and lengths,
//   escaping, trailing spaces.
// - Elastic's decode_cef processor, elastic/beats x-pack/filebeat/processors/decode_cef/cef/:
//   parser.rl + cef.rl (grammar), keys.go (key -> type table "generated from ... ArcSight Common
//   Event Format Version 25"), types.go (conversions), cef.go (Unpack: "Drop the key because the
//   field value is invalid"), cef_test.go (the padded / crlf cases for trailing whitespace).
//   Ported below as elasticDecodeCef (decimal subset of Go's ParseInt, which is all the agent
//   writes).
// - IBM QRadar "LEEF format guide" v2, as extracted in tenzir/skills skills/tenzir-leef/
//   {attributes.yaml,docs/event-components.md,docs/best-practices.md}.
// - RFC 5425 §4.3 (TLS transport mapping: SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG).
import { existsSync, readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/types.js';
import { runAgent, tmp } from '../helpers/agent.js';
import { makeCerts } from '../helpers/certs.js';
import { daemonsAvailable, freePort, startSyslogNg, type Daemon } from '../helpers/daemons.js';
import { fixtures, iso, mk } from '../helpers/raw-api.js';

const fx = fixtures();
afterAll(() => fx.closeAll());

// ------------------------------------------------------------------------------------------------
// Elastic decode_cef, ported (elastic/beats x-pack/filebeat/processors/decode_cef/cef)
// ------------------------------------------------------------------------------------------------

type CefType = 'Integer' | 'Long' | 'Double' | 'IP' | 'Timestamp' | 'String';
/** keys.go extensionMapping, the keys the agent writes or could use instead (type per keys.go). */
const ELASTIC_TYPES: Record<string, CefType> = {
  externalid: 'String', rt: 'Timestamp', cat: 'String', msg: 'String', suser: 'String', src: 'IP',
  destinationservicename: 'String', act: 'String', requestclientapplication: 'String', fileid: 'String',
  fsize: 'Integer', slat: 'Double', slong: 'Double', shost: 'String', c6a2: 'IP',
  cs1: 'String', cs2: 'String', cs3: 'String', cs4: 'String', cs5: 'String', cs6: 'String',
  cs1label: 'String', cs2label: 'String', cs3label: 'String', cs4label: 'String', cs5label: 'String', cs6label: 'String',
  cn1: 'Long', cn2: 'Long', cn3: 'Long', cn1label: 'String',
};

/** types.go: toInteger = strconv.ParseInt(v, 0, 32), toLong = ParseInt(v, 0, 64) (decimal subset). */
function goParseInt(v: string, bits: 32 | 64): bigint | undefined {
  if (!/^[+-]?(?:0|[1-9]\d*)$/.test(v)) return undefined;
  const n = BigInt(v);
  const max = (1n << BigInt(bits - 1)) - 1n;
  return n > max || n < -max - 1n ? undefined : n;
}
/** types.go toIP: net.ParseIP (no zone, no leading zeros in IPv4 octets since Go 1.17). */
const goParseIP = (v: string) => !v.includes('%') && (isIPv6(v) || (isIPv4(v) && !/(^|\.)0\d/.test(v)));
function convert(v: string, t: CefType): boolean {
  switch (t) {
    case 'Integer': return goParseInt(v, 32) !== undefined;
    case 'Long': return goParseInt(v, 64) !== undefined;
    case 'Timestamp': return goParseInt(v, 64) !== undefined || /^[A-Z][a-z]{2} [ \d]\d/.test(v);
    case 'Double': return /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(v) && Number.isFinite(Number(v));
    case 'IP': return goParseIP(v);
    case 'String': return true;
  }
}

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.,[\]]*=/; // cef.rl extension_key_pattern followed by equal
const SPACE = /[\t\n\v\f\r ]/;                  // Ragel `space`

/**
 * decode_cef's Unpack: header (escapes \\ and \| only), extension key=value pairs separated by
 * one space, value escapes \= \\ \n \r, trailing whitespace of the final value dropped (cef_test.go
 * "padded with extra whitespace chars"), then each mapped key converted to its type; a key whose
 * value does not convert is deleted (cef.go). Returns what an Elastic user gets.
 */
function elasticDecodeCef(line: string): { header: string[]; ext: Record<string, string>; dropped: string[] } {
  const m = /^CEF:\d+\|/.exec(line);
  if (!m) throw new Error('decode_cef: no CEF:<digits>| prefix');
  let i = m[0].length;
  const header: string[] = [];
  for (let f = 0; f < 6; f++) {
    let v = '';
    for (;; i++) {
      if (i >= line.length) throw new Error('decode_cef: unexpected end of event (header)');
      const c = line[i]!;
      if (c === '|') { i++; break; }
      if (c === '\\') {
        const n = line[i + 1];
        if (n !== '\\' && n !== '|') throw new Error(`decode_cef: error in CEF event at pos ${i + 1}`);
        v += n;
        i++;
        continue;
      }
      if (f === 5 && !/[A-Za-z0-9-]/.test(c)) throw new Error('decode_cef: bad severity');
      v += c;
    }
    header.push(v);
  }
  const ext: Record<string, string> = Object.create(null) as Record<string, string>;
  const s = line.slice(i);
  let p = 0;
  while (s[p] === ' ') p++;
  while (p < s.length) {
    const k = KEY.exec(s.slice(p));
    if (!k) throw new Error(`decode_cef: no extension key at ${p}: ${s.slice(p, p + 30)}`);
    const key = k[0].slice(0, -1);
    p += k[0].length;
    let raw = '';
    let end = s.length;
    for (let j = p; j < s.length; j++) {
      const c = s[j]!;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === undefined || !'=\\nr'.includes(n)) throw new Error(`decode_cef: malformed value for ${key}`);
        raw += c + n;
        j++;
        continue;
      }
      if (c === '=') throw new Error(`decode_cef: malformed value for ${key} (unescaped =)`);
      if (c === ' ' && KEY.test(s.slice(j + 1))) { end = j; break; }
      raw += c;
    }
    if (end === s.length) while (raw.length > 0 && SPACE.test(raw[raw.length - 1]!)) raw = raw.slice(0, -1);
    ext[key] = raw.replace(/\\([=\\nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
    p = end === s.length ? s.length : end + 1;
  }
  const dropped: string[] = [];
  for (const key of Object.keys(ext)) {
    const t = ELASTIC_TYPES[key.toLowerCase()];
    if (t && ext[key] !== '' && !convert(ext[key]!, t)) {
      dropped.push(key);
      delete ext[key]; // cef.go: "Drop the key because the field value is invalid."
    }
  }
  return { header, ext, dropped };
}

// ------------------------------------------------------------------------------------------------
// running the agent on records of our own
// ------------------------------------------------------------------------------------------------

const HOUR_AGO = () => Date.now() - 3_600_000;

/** Runs bin/siem-agent over `records` (Detect) to STREAM stdout; returns the event lines. */
async function agentLines(records: LogRecord[], format: 'cef' | 'leef' | 'json', extra: string[] = []): Promise<string[]> {
  const e = await fx.emulator(records);
  const dir = tmp('sa-a5-');
  const res = await runAgent(['--config', e.configFile(dir), '--severity', 'all', '--log_file', join(dir, 'agent.log'),
    '--elastica_app', 'detect', '--format', format, '-o', 'STREAM', '-s', 'STDOUT', ...extra]);
  expect(res.code, res.stderr).toBe(0);
  return res.stdout.split('\n').filter((l) => l !== '');
}

/** Every value of the record (as text) that an Elastic user can still find in the parsed event. */
function lostValues(r: LogRecord, ext: Record<string, string>): string[] {
  const have = new Set(Object.values(ext));
  return Object.entries(r).filter(([k]) => k !== 'created_timestamp').map(([k, v]) => `${k}=${String(v)}`)
    .filter((kv) => !have.has(kv.slice(kv.indexOf('=') + 1)));
}

// ================================================================================================
// CEF through Elastic's decode_cef
// ================================================================================================

describe('CEF: typed extension keys hold only values of their type (ArcSight CEF dictionary; Elastic decode_cef drops the rest)', () => {
  it('a file_size above 2^31-1 (a 3 GiB upload) is kept: not written to fsize, whose CEF type is Integer', async () => {
    // CEF Implementation Standard v27 (tenzir/skills skills/tenzir-cef/extensions.yaml): fsize
    // "fileSize", type: integer. elastic/beats .../decode_cef/cef/keys.go: "fsize" IntegerType;
    // types.go toInteger = strconv.ParseInt(v, 0, 32); cef.go deletes the key when it fails.
    // README "Numbers": "a long number in a CEF numeric key such as fsize goes to ad.file_size
    // instead, as any value that does not fit its key" - 3221225472 does not fit an Integer.
    const r = mk('big1', iso(HOUR_AGO()), { file_size: 3_221_225_472 });
    const [line] = await agentLines([r], 'cef');
    const got = elasticDecodeCef(line!);
    expect({ dropped: got.dropped, lost: lostValues(r, got.ext) }, line).toEqual({ dropped: [], lost: [] });
  });

  it('a threat_score out of a Long\'s range, or sent with an exponent, is kept: not written to cn1 (Long)', async () => {
    // keys.go: "cn1" LongType (ParseInt(v, 0, 64)); CEF standard: cn1 type long. The API's JSON
    // may write 1e19 or 1e21: both are integers for Number.isInteger, so cef.ts puts them in cn1,
    // as "10000000000000000000" (> 2^63-1) and "1e+21" (String(1e21): no integer at all).
    const r1 = mk('cn-a', iso(HOUR_AGO()), { threat_score: 1e19 });
    const r2 = mk('cn-b', iso(HOUR_AGO() + 1), { threat_score: 1e21, file_size: 1e21 });
    const lines = await agentLines([r1, r2], 'cef');
    const got = lines.map((l) => elasticDecodeCef(l));
    expect(got.map((g) => g.dropped), lines.join('\n')).toEqual([[], []]);
  });
});

describe('CEF: src holds an IP address (ArcSight CEF dictionary: src "The format is an IPv4 address")', () => {
  it('a host that is a name, not an IP address, is not written to src and stays in the event (e.g. shost)', async () => {
    // CEF standard v27: src (sourceAddress) type ipv4_address; shost (sourceHostName) string,
    // "a fully qualified domain name". keys.go: "src" IPType (net.ParseIP); cef.go drops the key
    // when ParseIP fails: the host's value is then nowhere in the event. api-contract.md calls
    // host "(client IP)", but also: "Values can hold any Unicode"; the README ("Sending to
    // ArcSight") only warns "if your tenant's host values are names, check what the connector
    // does with them" (a documented caveat, harmful: evidence is dropped).
    const r = mk('h1', iso(HOUR_AGO()), { host: 'laptop-4711.corp.example.com' });
    const [line] = await agentLines([r], 'cef');
    const got = elasticDecodeCef(line!);
    expect({ dropped: got.dropped, lost: lostValues(r, got.ext) }, line).toEqual({ dropped: [], lost: [] });
  });
});

describe('CEF: trailing spaces (ArcSight CEF standard, "The Extension Field")', () => {
  it('a value ending in spaces is never the final pair of the extension, so the spaces survive', async () => {
    // CEF standard v27 (skills/tenzir-cef/docs/overview.md): "Trailing spaces are not preserved
    // for the final key-value pair in the extension. ... ensure the ordering of key-value pairs
    // in the extension is such that any value with trailing spaces is not the final value."
    // elastic/beats cef_test.go "padded with extra whitespace chars": the final value loses its
    // trailing whitespace. The agent ends the line with the record's last unknown field (ad.*).
    const r = mk('t1', iso(HOUR_AGO()), { city: 'Paris  ' });
    const [line] = await agentLines([r], 'cef');
    expect(elasticDecodeCef(line!).ext['ad.city'], line).toBe('Paris  ');
  });
});

describe('CEF: values fit the lengths of their keys (ArcSight CEF dictionary)', () => {
  it('msg, act and externalId stay within 1023, 63 and 40 characters, the full text carried in another key', async () => {
    // CEF standard v27 (skills/tenzir-cef/extensions.yaml): msg string length 1023, act length
    // 63, externalId length 40, cs1-cs6 length 4000. The agent caps the header fields it copies
    // (README: "capped at 128 characters in the header ... their full text is in the extension")
    // but writes msg/act whole (up to --max_message_size, ~8 KB) and the heartbeat's externalId
    // is "siem-agent-heartbeat-" + a 36-character UUID = 57 characters.
    const r = mk('len1', iso(HOUR_AGO()), { message: `${'m'.repeat(1500)} END`, activity_type: `A${'a'.repeat(80)}` });
    const lines = await agentLines([r], 'cef', ['--heartbeat']);
    const over = lines.flatMap((l) => {
      const ext = elasticDecodeCef(l).ext;
      const limits: Record<string, number> = { msg: 1023, act: 63, externalId: 40 };
      return Object.entries(limits).filter(([k, n]) => (ext[k]?.length ?? 0) > n).map(([k]) => `${ext.externalId?.slice(0, 24)} ${k}: ${ext[k]!.length}`);
    });
    expect(over).toEqual([]);
  });
});

describe('the decode_cef port reproduces decode_cef\'s own test cases (elastic/beats .../decode_cef/cef/cef_test.go)', () => {
  it('standardMessage, paddedMessage, crlfMessage, tabMessage, escapedMessage', () => {
    const std = elasticDecodeCef('CEF:26|security|threatmanager|1.0|100|trojan successfully stopped|10|src=10.0.0.192 dst=12.121.122.82 spt=1232 eventId=1 in=4294967296 out=4294967296');
    expect(std.header).toEqual(['security', 'threatmanager', '1.0', '100', 'trojan successfully stopped', '10']);
    expect(std.ext.src).toBe('10.0.0.192');
    const padded = elasticDecodeCef('CEF:0|security|threatmanager|1.0|100|message is padded|10|spt=1232 msg=Trailing space in non-final extensions is  preserved    src=10.0.0.192 ');
    expect(padded.ext).toEqual({ spt: '1232', msg: 'Trailing space in non-final extensions is  preserved   ', src: '10.0.0.192' });
    const crlf = elasticDecodeCef('CEF:0|security|threatmanager|1.0|100|message is padded|10|spt=1232 msg=Trailing space in final extensions is not preserved\t \r\n');
    expect(crlf.ext.msg).toBe('Trailing space in final extensions is not preserved');
    const tab = elasticDecodeCef('CEF:0|security|threatmanager|1.0|100|message is padded|10|spt=1232 msg=Tabs\tand\rcontrol\ncharacters are preserved\t src=127.0.0.1');
    expect(tab.ext.msg).toBe('Tabs\tand\rcontrol\ncharacters are preserved\t');
    const esc = elasticDecodeCef('CEF:0|security\\\\compliance|threat\\|->manager|1.0|100|message contains escapes|10|spt=1232 msg=Newlines in messages\\nare allowed.\\r\\nAnd so are carriage feeds\\\\newlines\\\\\\=.');
    expect(esc.header.slice(0, 2)).toEqual(['security\\compliance', 'threat|->manager']);
    expect(esc.ext.msg).toBe('Newlines in messages\nare allowed.\r\nAnd so are carriage feeds\\newlines\\=.');
  });
});

// ================================================================================================
// LEEF as IBM documents it
// ================================================================================================

/** IBM LEEF guide v2 (skills/tenzir-leef/attributes.yaml): the 45 predefined event attributes. */
const LEEF_PREDEFINED = ['cat', 'devTime', 'devTimeFormat', 'proto', 'sev', 'src', 'dst', 'srcPort', 'dstPort', 'srcPreNAT', 'dstPreNAT',
  'srcPostNAT', 'dstPostNAT', 'usrName', 'srcMAC', 'dstMAC', 'srcPreNATPort', 'dstPreNATPort', 'srcPostNATPort', 'dstPostNATPort', 'identSrc',
  'identHostName', 'identNetBios', 'identGrpName', 'identMAC', 'vSrc', 'vSrcName', 'accountName', 'srcBytes', 'dstBytes', 'srcPackets',
  'dstPackets', 'totalPackets', 'role', 'realm', 'policy', 'resource', 'url', 'groupID', 'domain', 'isLoginEvent', 'isLogoutEvent',
  'identSecondlp', 'calLanguage', 'calCountryOrRegion'];

/**
 * LEEF 2.0 as the IBM guide defines it (docs/event-components.md): header fields split on `|`,
 * the 6th the delimiter (one character, or x/0x + hex), then attributes "separated by tab or the
 * delimiter character", each key=value. The guide defines no escaping in attributes; QRadar's own
 * recipe to extract a key is the regex `key=([^<delimiter>]+)` (attributes.yaml parsing_notes).
 */
function ibmLeef(line: string): { eventId: string; delimiter: string; attrs: [string, string][] } {
  const m = /^LEEF:2\.0\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|/.exec(line);
  if (!m) throw new Error(`not LEEF 2.0: ${line.slice(0, 60)}`);
  const d = m[5]!;
  const delimiter = /^(?:0x|x)[0-9a-fA-F]{1,4}$/.test(d) ? String.fromCharCode(parseInt(d.replace(/^0?x/, ''), 16)) : d;
  const attrs = line.slice(m[0].length).split(delimiter).filter((a) => a !== '').map((a): [string, string] => {
    const eq = a.indexOf('=');
    return [a.slice(0, eq), a.slice(eq + 1)];
  });
  return { eventId: m[4]!, delimiter, attrs };
}

describe('LEEF: attributes as IBM\'s LEEF guide defines them', () => {
  it('a host that is a name is not written to src (LEEF src: ip_address) and stays in the event', async () => {
    // IBM LEEF guide v2, predefined attributes (skills/tenzir-leef/attributes.yaml): src, type
    // ip_address, normalized: "The IP address of the event source." README ("Sending to QRadar"):
    // "`src` must be an IP address" - but leef.ts writes host to src whatever it holds.
    const r = mk('lh1', iso(HOUR_AGO()), { host: 'laptop-4711.corp.example.com' });
    const [line] = await agentLines([r], 'leef');
    const attrs = Object.fromEntries(ibmLeef(line!).attrs);
    expect({ srcIsIp: attrs.src === undefined || isIPv4(attrs.src) || isIPv6(attrs.src), kept: Object.values(attrs).includes(r.host as string) }, line)
      .toEqual({ srcIsIp: true, kept: true });
  });

  it('a record field named like a LEEF predefined key (dst, proto, url) is not written under that predefined key', async () => {
    // IBM LEEF guide v2, "Best practices" (skills/tenzir-leef/docs/best-practices.md): "A
    // user-defined key cannot use the same name as a LEEF predefined key." The contract: "Unknown
    // fields appear and must be carried". leef.ts reserves only devTime, devTimeFormat, sev, cat,
    // externalId, usrName and src (TAKEN); a field `dst` lands in QRadar's normalized destination
    // IP (type ip_address), `proto` in the transport protocol (integer_or_keyword).
    const r = mk('lk1', iso(HOUR_AGO()), { dst: 'files.example.com', proto: 'https', url: 'https://box.example/f/1' });
    const [line] = await agentLines([r], 'leef');
    const own = new Set(['devTime', 'devTimeFormat', 'sev', 'cat', 'usrName', 'src']);
    const misused = ibmLeef(line!).attrs.map(([k]) => k).filter((k) => LEEF_PREDEFINED.includes(k) && !own.has(k));
    expect(misused, line).toEqual([]);
  });

  it('[harmful documented decision] a value holding the delimiter ^ cannot add attributes for a reader that splits on the declared delimiter', async () => {
    // IBM LEEF guide v2: attributes are separated by the delimiter character; no escaping is
    // defined; "avoid tab, pipe, or caret delimiters in your event payload keys and values"
    // (best-practices.md); QRadar custom properties are `key=([^<delimiter>]+)` (attributes.yaml
    // parsing_notes). README "LEEF 2.0" documents the agent's own `\^` escaping, which no LEEF
    // reader is told about: `message=quota\^dst=203.0.113.9` is split into message=`quota\` and a
    // forged dst (QRadar's normalized destination IP) - a value the API sent as text becomes a
    // field. LEEF 2.0 declares the delimiter in each event's header, so a delimiter absent from
    // the event's values can be chosen per event, and nothing needs escaping.
    const r = mk('ld1', iso(HOUR_AGO()), { message: 'quota^dst=203.0.113.9^identSrc=10.9.9.9' });
    const [line] = await agentLines([r], 'leef');
    const keys = ibmLeef(line!).attrs.map(([k]) => k);
    expect(keys.filter((k) => k === 'dst' || k === 'identSrc'), line).toEqual([]);
    expect(Object.fromEntries(ibmLeef(line!).attrs).message, line).toBe(r.message);
  });
});

describe('LEEF: tabs in values', () => {
  it('[harmful documented decision] no attribute value holds a raw tab, which IBM lists as "Incorrect" in a value', async () => {
    // IBM LEEF guide v2, best practices (skills/tenzir-leef/docs/best-practices.md): "avoid tab,
    // pipe, or caret delimiters in your event payload keys and values (key=value). Correct -
    // usrName=Joe.Smith; Incorrect - usrName=Joe<tab>Smith". event-components.md: "Each event
    // attribute must be separated by tab or the delimiter character". README "Control characters"
    // keeps TAB as is in LEEF values (and rsyslog turns it into #011 on the way); sent straight to
    // QRadar (-o REMOTE), `message=a<tab>dst=203.0.113.9` reads as an attribute dst to a reader
    // that separates on tab as LEEF 1.0 does.
    const r = mk('lt1', iso(HOUR_AGO()), { user: 'Joe\tSmith', message: 'a\tdst=203.0.113.9' });
    const [line] = await agentLines([r], 'leef');
    expect(ibmLeef(line!).attrs.filter(([, v]) => v.includes('\t')).map(([k]) => k), line).toEqual([]);
  });
});

describe('LEEF header as IBM\'s LEEF guide defines it', () => {
  it('an activity_type holding | leaves the header\'s six pipe-delimited fields intact (EventID, then the delimiter ^)', async () => {
    // IBM LEEF guide v2 (skills/tenzir-leef/docs/event-components.md): "The LEEF header is a pipe
    // delimited (|) set of values", LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter| -
    // no escape is defined for the header (CEF's `\|` is ArcSight's, not IBM's). leef.ts writes the
    // EventID through escapeCefHeader: `Upload\|Share`. A reader splitting on | takes EventID
    // `Upload\` and the delimiter field `Share` (not one character nor x/0x hex): the attributes,
    // devTime and sev among them, no longer parse. The full activity_type is in the attributes
    // already, so the header copy could drop or replace the pipe.
    const r = mk('lp1', iso(HOUR_AGO()), { activity_type: 'Upload|Share' });
    const [line] = await agentLines([r], 'leef');
    const h = /^LEEF:2\.0\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|/.exec(line!);
    expect({ delimiter: h?.[5], sevParsed: ibmLeef(line!).attrs.some(([k]) => k === 'sev') }, line).toEqual({ delimiter: '^', sevParsed: true });
  });
});

describe('Oversized events: --max_message_size bounds the formatted event (README "Oversized events")', () => {
  it('a CEF event whose name and activity_type are 128 CJK characters still fits --max_message_size 600', async () => {
    // README: "--max_message_size bounds the formatted event (without the syslog header)"; also
    // "the header [is] never cut". The header fields are capped at 128 UTF-16 units, not bytes:
    // 128 CJK characters are 384 bytes each, so the CEF header alone is ~800 bytes and no
    // shortening of extension values can bring the event under a limit the user set (512 is the
    // smallest accepted) - the receiver (rsyslog's maxMessageSize, QRadar's payload length) cuts
    // it instead, the tail of the extension with it. Found by fuzzing formatCef (3,000 random
    // records, 186 over the limit, all CEF, all with a long multi-byte header).
    const r = mk('ov1', iso(HOUR_AGO()), { name: '名'.repeat(200), activity_type: '动'.repeat(200), message: 'm'.repeat(300) });
    const [line] = await agentLines([r], 'cef', ['--max_message_size', '600']);
    expect(Buffer.byteLength(line!), line).toBeLessThanOrEqual(600);
  });
});

// ================================================================================================
// syslog transports
// ================================================================================================

describe.skipIf(!daemonsAvailable().syslogNg)('REMOTE TLS is RFC 5425 syslog over TLS', () => {
  let d: Daemon | undefined;
  afterAll(async () => { await d?.stop(); });

  // Decided: --framing lf stays the default for TLS (Splunk's tcp-ssl input reads LF-delimited
  // events; octet counts would break its line breaking). A strict RFC 5425 receiver drops LF-framed
  // messages: the run must fail loudly, checkpoint nothing, and say which flag fixes it; with
  // --framing octet every event arrives once (outputs.test.ts covers octet with real daemons too).
  // How fast syslog-ng drops an LF-framed connection varies: mostly within the agent's confirmation
  // window (the run fails, as asserted), sometimes after it (the run ends 0 with lines the receiver
  // then discarded: README's documented limit of plain TCP/TLS syslog). So the failing case is
  // checked whenever it happens, and the remedy always; each run has a state of its own.
  it('TLS to an RFC 5425 receiver (syslog-ng syslog() transport tls): with the default lf framing a failed run checkpoints nothing and names --framing octet; with it, each event arrives as one message', async () => {
    // RFC 5425 §4.3: "APPLICATION-DATA = 1*SYSLOG-FRAME; SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG"
    const dir = tmp('sa-a5-tls-');
    const c = makeCerts(dir);
    const port = await freePort('tcp');
    d = await startSyslogNg({ kind: 'tls', port, ca: c.ca, cert: c.serverCert, key: c.serverKey, framing: 'octet' });
    const recs = [mk('tls1', iso(HOUR_AGO()), { message: 'first' }), mk('tls2', iso(HOUR_AGO() + 1), { message: 'second' })];
    const e = await fx.emulator(recs);
    const args = ['--config', e.configFile(dir), '--severity', 'all', '--log_file', join(dir, 'agent.log'), '--elastica_app', 'detect',
      '-o', 'REMOTE', '-t', `localhost:${port}`, '--socket_type', 'TLS', '--tls_ca', c.ca, '--reconnect_timeout', '5'];
    const lf = await runAgent(args);
    expect([0, 1], lf.stderr).toContain(lf.code);
    if (lf.code === 1) {
      expect(lf.stderr).toMatch(/wants --framing octet/);
      expect(existsSync(join(dir, 'export_log.state')) ? readFileSync(join(dir, 'export_log.state'), 'utf8') : '').not.toMatch(/Detect/);
    }
    const dir2 = tmp('sa-a5-tls-octet-');
    const octetArgs = ['--config', e.configFile(dir2), '--severity', 'all', '--log_file', join(dir2, 'agent.log'), '--elastica_app', 'detect',
      '-o', 'REMOTE', '-t', `localhost:${port}`, '--socket_type', 'TLS', '--tls_ca', c.ca, '--reconnect_timeout', '5', '--framing', 'octet'];
    const res = await runAgent(octetArgs);
    const lines = await d.waitForLines(2, 5000);
    const ids = lines.map((l) => /externalId=(\S+)/.exec(l)?.[1]);
    expect({ code: res.code, ids }, `${res.stderr}\nreceived: ${JSON.stringify(lines).slice(0, 600)}`).toEqual({ code: 0, ids: ['tls1', 'tls2'] });
  });
});
