// Audit of the data end to end: timestamps, paging, markers and what each format writes.
// Each test says what an experienced SIEM engineer expects and why.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/types.js';
import { countIds, idsOf, jsonLines, runAgent, stateOf, tmp, untilCaughtUp } from '../helpers/agent.js';
import { cefExpected, leefExpected, onLeefWire } from '../helpers/expected.js';
import { fixtures, iso, mk, page } from '../helpers/raw-api.js';
import { parseCef, parseJsonLine, parseLeef } from '../helpers/parsers.js';

const fx = fixtures();
afterAll(() => fx.closeAll());
const { emulator, rawApi } = fx;

function setup(configFile: (dir: string) => string) {
  const dir = tmp('sa-data-');
  const config = configFile(dir);
  const out = join(dir, 'out.json');
  const log = join(dir, 'agent.log');
  const base = ['--config', config, '--severity', 'all', '--log_file', log, '--elastica_app', 'detect'];
  return { dir, out, log, base, file: [...base, '--format', 'json', '-o', 'FILE', '-f', out], stream: [...base, '-o', 'STREAM', '-s', 'STDOUT'] };
}

// ---------------------------------------------------------------------------------------------

describe('late arrivals: a log inserted after a run, with a created_timestamp before the marker', () => {
  // KNOWN LIMIT (README "Exactly once: how", late arrivals): --ingest_delay (60 s) covers a log
  // shown up to that long after its creation (test/e2e/ingest-delay.test.ts); this one is shown a
  // day late, and issue 4 and the contract ask from the marker on. Kept as the reproduction for a
  // look-back window.
  it.skip('is delivered by a later run (not silently lost)', async () => {
    // The API's records carry inserted_timestamp: logs become visible after they are created
    // (the emulator's own data has a 1-6 s lag). A log created at t2 but inserted after a run that
    // already delivered a log created at t3 > t2 sits before the marker; the query starts at the
    // marker, so no later run ever asks for it. The README promises every log exactly once and
    // says nothing of this case.
    const base = Date.now() - 86_400_000;
    const e = await emulator([mk('a', iso(base)), mk('c', iso(base + 10_000))]);
    const s = setup((d) => e.configFile(d));
    expect((await runAgent(s.file)).code).toBe(0);
    expect(idsOf(jsonLines(s.out))).toEqual(['a', 'c']);
    // b: created 5 s before c, inserted (visible in the API) only now
    e.addLogs('Detect', [mk('b', iso(base + 5_000), { inserted_timestamp: iso(Date.now()) })]);
    expect((await runAgent(s.file)).code).toBe(0);
    expect((await runAgent(s.file)).code).toBe(0);
    expect(idsOf(jsonLines(s.out)).sort(), 'log b (created before the marker, inserted later) was never delivered').toEqual(['a', 'b', 'c']);
  });
});

describe('created_timestamp that is not a valid ISO 8601 UTC time', () => {
  // a 30-day month that ended at least a month ago, within retention
  const now = new Date();
  let y = now.getUTCFullYear();
  let m = now.getUTCMonth(); // 0-based: the previous month, then further back
  for (;;) {
    m--;
    if (m < 0) { m = 11; y--; }
    if (new Date(Date.UTC(y, m + 1, 0)).getUTCDate() === 30) break;
  }
  const badDay = `${y}-${String(m + 1).padStart(2, '0')}-31T10:00:00.000Z`; // no such day

  it(`a day that does not exist (${badDay}) is refused, not shifted to the 1st of the next month`, async () => {
    // README: a log with "no valid created_timestamp" stops the run (exit 1, one line). V8's
    // Date.parse accepts day 31 of a 30-day month and rolls it over, so the agent writes an rt the
    // API never sent (a different day, in court evidence).
    const e = await emulator([mk('ok1', iso(Date.UTC(y, m, 20))), mk('bad', badDay)]);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.stream, '--format', 'cef']);
    const rts = res.stdout.trim().split('\n').filter(Boolean).map((l) => parseCef(l).extension);
    const bad = rts.find((x) => x.externalId === 'bad');
    expect(bad?.rt === undefined ? undefined : iso(Number(bad.rt)), `exit ${res.code}; the log was written with this rt`).toBeUndefined();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/no valid created_timestamp/);
  });

  it('a time without a zone designator in a non-ISO spelling is never read as the host\'s local time', async () => {
    // README: "a created_timestamp without a zone designator is read as UTC too, never as the agent
    // host's local time". time.ts only appends Z to ISO shapes; "2026/11/20 10:00:00" goes to
    // V8's legacy parser, which reads it in the host's zone (TZ=Asia/Tokyo: 9 h off).
    const d = new Date(Date.now() - 3 * 86_400_000);
    const p2 = (n: number) => String(n).padStart(2, '0');
    const spelled = `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} 10:00:00`;
    const utc = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 10);
    const e = await emulator([mk('x', spelled)]);
    const s = setup((dir) => e.configFile(dir));
    const res = await runAgent([...s.stream, '--format', 'cef'], { env: { TZ: 'Asia/Tokyo' } });
    const line = res.stdout.trim().split('\n').find((l) => l.includes('externalId=x'));
    // acceptable: refused as invalid (exit 1), or read as UTC
    if (line !== undefined) expect(iso(Number(parseCef(line).extension.rt)), `${spelled} written as`).toBe(iso(utc));
    else expect(res.code).toBe(1);
  });
});

describe('microsecond timestamps', () => {
  it('CEF and LEEF keep the created_timestamp the API sent, not only its millisecond truncation', async () => {
    // "…00.123456Z": rt (epoch ms) and devTime (.SSS) cannot carry the microseconds, and
    // created_timestamp is not written anywhere else, so the event's own time is altered
    // (.123456 → .123) with no trace, and two logs 0.5 ms apart become indistinguishable.
    const ts = iso(Date.now() - 86_400_000).replace('Z', '456Z');
    const e = await emulator([mk('u', ts)]);
    for (const format of ['cef', 'leef'] as const) {
      const s = setup((d) => e.configFile(d));
      const res = await runAgent([...s.stream, '--format', format]);
      expect(res.code).toBe(0);
      const line = res.stdout.trim();
      const values = format === 'cef' ? Object.values(parseCef(line).extension) : Object.values(parseLeef(line).attrs);
      expect.soft(values, `${format}: ${line}`).toContain(ts);
    }
  });

  it('ties in one millisecond but different microseconds, cut by --max_logs at a page boundary, every log once across runs', async () => {
    const t = Date.now() - 2 * 86_400_000;
    const logs: LogRecord[] = [];
    for (let i = 0; i < 9; i++) logs.push(mk(`p${i}`, iso(t - 1000 + i)));
    // 30 logs in one ms, each with other microseconds, plus "no fraction" and "+00:00" forms elsewhere
    for (let i = 0; i < 30; i++) logs.push(mk(`u${i}`, iso(t).replace('Z', `${String(999 - i).padStart(3, '0')}Z`)));
    logs.push(mk('s0', iso(t + 1000).replace('.000Z', 'Z')), mk('s1', iso(t + 2000).replace('Z', '+00:00')));
    const e = await emulator(logs);
    const s = setup((d) => e.configFile(d));
    await untilCaughtUp([...s.file, '--page_size', '8', '--max_logs', '16'], s.log, 20);
    const counts = countIds(idsOf(jsonLines(s.out)));
    expect([...counts].filter(([, c]) => c !== 1)).toEqual([]);
    expect(counts.size).toBe(logs.length);
    expect(stateOf(s.dir)!.apps.Detect).toMatchObject({ timestamp: iso(t + 2000), ids: ['s1'] });
  });
});

describe('a tie group larger than a page', () => {
  it('1,500 logs in one ms, page 1000, --max_logs cutting at the page boundary and inside the group: every log once', async () => {
    const t = Date.now() - 2 * 86_400_000;
    const logs: LogRecord[] = [mk('before', iso(t - 1))];
    for (let i = 0; i < 1500; i++) logs.push(mk(`g${i}`, iso(t).replace('.000Z', 'Z')));
    logs.push(mk('after', iso(t + 1)));
    const e = await emulator(logs);
    const s = setup((d) => e.configFile(d));
    // run 1: 1,000 = exactly the first page; later runs cut at 1,000 again, inside the group
    await untilCaughtUp([...s.file, '--max_logs', '1000'], s.log, 10);
    const counts = countIds(idsOf(jsonLines(s.out)));
    expect([...counts].filter(([, c]) => c !== 1)).toEqual([]);
    expect(counts.size).toBe(logs.length);
  });
});

describe('--start_date, then the cron runs', () => {
  it('the runs after --start_date go on from where it stopped: every log from that day once, none before', async () => {
    const day = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const d0 = Date.parse(`${day}T00:00:00.000Z`);
    const logs = [
      mk('old1', iso(d0 - 86_400_000)), mk('old2', iso(d0 - 1)),
      mk('z0', iso(d0)), mk('z1', iso(d0)), mk('z2', iso(d0)),
      ...Array.from({ length: 12 }, (_, i) => mk(`n${i}`, iso(d0 + 3_600_000 * (i + 1)))),
    ];
    const e = await emulator(logs);
    const s = setup((dd) => e.configFile(dd));
    expect((await runAgent([...s.file, '--start_date', day, '--max_logs', '2', '--page_size', '2'])).code).toBe(0);
    await untilCaughtUp([...s.file, '--max_logs', '4', '--page_size', '3'], s.log, 10);
    const ids = idsOf(jsonLines(s.out));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(logs.filter((l) => !l._id.startsWith('old')).map((l) => l._id).sort());
  });
});

describe('field values with every awkward character, through the agent (strict parsers)', () => {
  const t = iso(Date.now() - 86_400_000);
  const long = `${'long value é 😀 '.repeat(1500)}end`;
  const awkward = [
    'pipe | and = and \\ and \\= and \\| and \\n literal', 'line\nbreak\r\nand\rcr', 'tab\there', 'nul\u0000in\u0001middle\u001f',
    'line\u2028separator\u2029para', '😀🔥 👩‍💻 emoji', '\u200f\u202eמימין לשמאל RTL مرحبا', '  spaces  ', 'trailing backslash\\', '=', '|', '^ caret \\^',
    ' key=value cs1=forged suser=evil', 'CEF:0|a|b|c|d|e|5|x=y', 'LEEF:2.0|a|b|c|d|^|x=y',
  ];
  const logs: LogRecord[] = awkward.map((v, i) => mk(`w${i}`, t, {
    message: v, user: v, name: v, activity_type: v, user_name: v, city: v,
    // fields named like CEF/LEEF keys, with spaces, dots, and unknown nested ones
    msg: v, rt: v, cs1Label: v, externalId: v, devTime: v, sev: v, 'field with spaces': v, 'dotted.name': v, 'new_field': { nested: [v, 1, null] }, nothing: null,
  }));
  logs.push(mk('long', t, { message: long }));

  it('CEF: each line parses back to exactly the values sent (C0 controls but TAB as U+FFFD, as documented)', async () => {
    const e = await emulator(logs);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.stream, '--format', 'cef']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(logs.length);
    for (const line of lines) {
      const cef = parseCef(line);
      const rec = logs.find((r) => r._id === cef.extension.externalId)!;
      const labels = { cs1Label: 'objectType', cs2Label: 'logName', cs3Label: 'severity', cs4Label: 'policyViolated', cs5Label: 'incidentId', cs6Label: 'userName' };
      const want = cefExpected(rec, 'Detect')!;
      for (const [k, v] of Object.entries(labels)) if (Object.hasOwn(want, k.replace('Label', ''))) want[k] = v;
      expect(cef.extension).toEqual(want);
      expect(cef.extension.rt).toBe(String(Date.parse(t)));
    }
  });

  it('LEEF 2.0: header with its delimiter (^, or ~ when a value holds a ^), devTime in devTimeFormat, every value back exactly', async () => {
    const e = await emulator(logs);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.stream, '--format', 'leef']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(logs.length);
    for (const line of lines) {
      expect(line).toMatch(/^LEEF:2\.0\|Symantec\|CloudSOC\|[^|]+\|[^|]*\|[~^]\|devTime=/);
      const leef = parseLeef(line);
      const rec = logs.find((r) => r._id === leef.attrs.externalId)!;
      expect(leef.delimiter).toBe(JSON.stringify(rec).includes('^') ? '~' : '^');
      const want = leefExpected(rec, 'Detect');
      // a field named like a reserved key is numbered (README): externalId_2, devTime_2, sev_2
      const got = { ...leef.attrs };
      expect([got.devTime, got.devTimeFormat, got.sev]).toEqual([t, "yyyy-MM-dd'T'HH:mm:ss.SSSX", '8']);
      expect([got.externalId_2, got.devTime_2, got.sev_2]).toEqual([onLeefWire(String(rec.externalId)), onLeefWire(String(rec.devTime)), onLeefWire(String(rec.sev))].map((v) => rec._id === 'long' ? undefined : v));
      for (const k of ['devTime', 'devTimeFormat', 'sev', 'externalId_2', 'devTime_2', 'sev_2']) delete got[k];
      if (want) expect(got).toEqual(want);
      else {
        const { externalId: _e, devTime: _d, sev: _s, ...rest } = rec;
        expect(got).toEqual(leefExpected(rest as LogRecord, 'Detect'));
      }
    }
  });

  it('JSON: each line is the record exactly as sent', async () => {
    const e = await emulator(logs);
    const s = setup((d) => e.configFile(d));
    const res = await runAgent([...s.stream, '--format', 'json']);
    expect(res.code).toBe(0);
    const lines = res.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(logs.length);
    for (const line of lines) {
      const got = parseJsonLine(line) as LogRecord;
      expect(got).toEqual(logs.find((r) => r._id === got._id));
    }
  });
});

describe('numbers: "Numbers keep the digits the API sent, in every format"', () => {
  it('a number too large for a double (1e400) is not written as null (JSON) or Infinity (CEF)', async () => {
    // JSON.parse gives Infinity, JSON.stringify writes null: a value the API sent becomes null.
    // exact-numbers.ts only protects numbers of 16+ digits, and changes() skips non-finite ones.
    const t = iso(Date.now() - 86_400_000);
    const api = await rawApi(Buffer.from(page(`{"_id":"n1","created_timestamp":"${t}","severity":"high","service":"Box","risk_score":1e400}`)));
    const s = setup(api.configFile);
    const json = await runAgent([...s.stream, '--format', 'json', '--dry_run']);
    expect(json.code).toBe(0);
    expect.soft(json.stdout.trim(), 'JSON line').toContain('"risk_score":1e400');
    const cef = await runAgent([...s.stream, '--format', 'cef', '--dry_run']);
    expect.soft(parseCef(cef.stdout.trim()).extension['ad.risk_score'], 'CEF ad.risk_score').toBe('1e400');
  });

  it('a page with a UTF-8 BOM: a 17-digit decimal keeps its digits (the fast path does; the BOM path does not)', async () => {
    // page-json.ts: a body starting with a BOM skips splitPage; parseBody then tests /\d{16}/ on the
    // whole text, which misses 12345678.123456789 (two runs of 8 and 9 digits), so plain JSON.parse
    // turns it into 12345678.12345679. Without the BOM the same page keeps the digits.
    const t = iso(Date.now() - 86_400_000);
    const logs = `{"_id":"b1","created_timestamp":"${t}","severity":"high","service":"Box","latitude":12345678.123456789}`;
    for (const bom of [false, true]) {
      const api = await rawApi(Buffer.concat([Buffer.from(bom ? [0xef, 0xbb, 0xbf] : []), Buffer.from(page(logs))]));
      const s = setup(api.configFile);
      const res = await runAgent([...s.stream, '--format', 'json', '--dry_run']);
      expect(res.code).toBe(0);
      expect(res.stdout.trim(), bom ? 'with a BOM' : 'without a BOM').toContain('"latitude":12345678.123456789');
    }
  });

  it('short numbers keep their value in JSON, written as JavaScript writes them (README: JSON)', async () => {
    // README JSON, as decided: "A short number is written as JavaScript writes the same value"
    const t = iso(Date.now() - 86_400_000);
    const api = await rawApi(Buffer.from(page(`{"_id":"s1","created_timestamp":"${t}","severity":"high","service":"Box","a":1.10,"b":1E3,"c":-0,"d":0.0000001}`)));
    const s = setup(api.configFile);
    const res = await runAgent([...s.stream, '--format', 'json', '--dry_run']);
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toContain('"a":1.1,"b":1000,"c":0,"d":1e-7');
  });
});

describe('field names JavaScript treats specially, straight from the API\'s JSON', () => {
  it('__proto__, constructor, toString and integer-like names are carried in JSON, CEF and LEEF', async () => {
    const t = iso(Date.now() - 86_400_000);
    const raw = `{"_id":"p1","created_timestamp":"${t}","severity":"high","service":"Box","__proto__":"P","constructor":"C","toString":"T","hasOwnProperty":"H","7":"seven"}`;
    const api = await rawApi(Buffer.from(page(raw)));
    const s = setup(api.configFile);
    const json = await runAgent([...s.stream, '--format', 'json', '--dry_run']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout.trim())).toEqual(JSON.parse(raw));
    const cef = await runAgent([...s.stream, '--format', 'cef', '--dry_run']);
    const ext = parseCef(cef.stdout.trim()).extension;
    expect([ext['ad.__proto__'], ext['ad.constructor'], ext['ad.toString'], ext['ad.hasOwnProperty'], ext['ad.7']]).toEqual(['P', 'C', 'T', 'H', 'seven']);
    const leef = await runAgent([...s.stream, '--format', 'leef', '--dry_run']);
    const at = parseLeef(leef.stdout.trim()).attrs;
    expect([at.__proto__, at.constructor, at.toString, at.hasOwnProperty, at['7']]).toEqual(['P', 'C', 'T', 'H', 'seven']);
  });
});
