import { describe, expect, it } from 'vitest';
import { cefHeader, cefPairs, escapeCefHeader, escapeCefValue, formatCef } from '../src/format/cef.js';
import { escapeLeefValue, formatLeef, leefHeaderField, leefPairs } from '../src/format/leef.js';
import { formatJson } from '../src/format/json.js';
import { cutUtf8, type FormatContext } from '../src/format/fields.js';
import type { LogRecord } from '../src/types.js';
import { parseCef, parseJsonLine, parseLeef } from './helpers/parsers.js';
import { LEEF_DELIMITERS, LEEF_PREDEFINED } from './helpers/expected.js';

const ctx = (over: Partial<FormatContext> = {}): FormatContext => ({ app: 'Investigate', version: '1.0.0', maxBytes: 0, ...over });
const rec = (over: Record<string, unknown> = {}): LogRecord => ({
  _id: 'abc123', created_timestamp: '2026-11-22T10:00:00.123Z', severity: 'error', service: 'Box', ...over,
});

describe('CEF escaping, per the ArcSight CEF specification examples', () => {
  it('escapes a pipe and a backslash in the header', () => {
    expect(escapeCefHeader('detected a | in message')).toBe('detected a \\| in message');
    expect(escapeCefHeader('detected a \\ in packet')).toBe('detected a \\\\ in packet');
  });
  it('escapes an equal sign and a backslash in extension values, but not a pipe', () => {
    expect(escapeCefValue('blocked a =')).toBe('blocked a \\=');
    expect(escapeCefValue('blocked a \\')).toBe('blocked a \\\\');
    expect(escapeCefValue('blocked a |')).toBe('blocked a |');
  });
  it('writes line breaks in values as \\n and \\r', () => {
    expect(escapeCefValue('Detected a threat.\nNo action needed.')).toBe('Detected a threat.\\nNo action needed.');
    expect(escapeCefValue('a\r\nb')).toBe('a\\r\\nb');
  });
  it('keeps a header on one line', () => {
    expect(escapeCefHeader('two\nlines')).toBe('two lines');
  });
  it('caps a header value before a surrogate pair, never through it', () => {
    const name = `${'a'.repeat(126)}😀 and more text after the emoji`;
    const capped = escapeCefHeader(name);
    expect(capped).toBe(`${'a'.repeat(126)}…`);
    expect(escapeCefHeader(`${'a'.repeat(125)}😀 and more`)).toBe(`${'a'.repeat(125)}😀…`);
    // once on the wire (UTF-8), the CEF name and the LEEF event id are still a prefix + "…"
    const wire = (line: string) => Buffer.from(line, 'utf8').toString('utf8');
    expect(parseCef(wire(formatCef(rec({ name }), ctx()))).name).toBe(capped);
    expect(parseLeef(wire(formatLeef(rec({ activity_type: name }), ctx()))).eventId).toBe(capped);
  });
});

describe('control characters (README "Control characters")', () => {
  const C0 = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('');
  // every C0 control but TAB, LF and CR
  const OTHER = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;
  it('writes every C0 control but TAB, LF and CR as U+FFFD in CEF and LEEF values and headers (LEEF: TAB too)', () => {
    const want = (s: string) => s.replace(new RegExp(OTHER.source, 'g'), '\ufffd');
    const leefWant = (s: string) => want(s).replace('\t', '\ufffd');
    expect(escapeCefValue(C0)).toBe(want(C0).replace('\n', '\\n').replace('\r', '\\r'));
    expect(escapeLeefValue(C0)).toBe(leefWant(C0).replace('\n', '\\n').replace('\r', '\\r'));
    expect(escapeCefValue('a\0b\tc')).toBe('a\ufffdb\tc');
    expect(escapeCefHeader(`x${C0}y`)).toBe(`x${want(C0.slice(0, 10))} ${want(C0.slice(11, 13))} ${want(C0.slice(14))}y`);
    const r = rec({ message: C0, name: C0, activity_type: `act${C0}`, [`k${C0}`]: [C0], user: C0, host: C0 });
    expect(formatCef(r, ctx({ version: `1${C0}` }))).not.toMatch(/[\x00-\x08\x0a-\x1f]/);
    expect(formatLeef(r, ctx({ version: `1${C0}` }))).not.toMatch(/[\x00-\x1f]/);
    expect(parseCef(formatCef(r, ctx())).extension.msg).toBe(want(C0));
    // LEEF defines no escaping: LF and CR arrive as the two characters \n and \r
    expect(parseLeef(formatLeef(r, ctx())).attrs.message).toBe(leefWant(C0).replace('\n', '\\n').replace('\r', '\\r'));
    expect(leefHeaderField(`x${C0}|y`)).toBe(`x${'\ufffd'.repeat(33)}y`);
  });
  it('a NUL cannot end the event early and forge a second one (syslog-ng reads NUL as the end of a message)', () => {
    const message = 'before\u0000after cs1\\=forged';
    for (const line of [formatCef(rec({ message }), ctx()), formatLeef(rec({ message }), ctx())]) {
      // what an LF-framed receiver that also stops at NUL splits the stream into
      expect(`${line}\n`.split(/[\0\n]/).filter((l) => l !== '')).toEqual([line]);
    }
    expect(parseCef(formatCef(rec({ message }), ctx())).extension.msg).toBe('before\ufffdafter cs1\\=forged');
    expect(parseLeef(formatLeef(rec({ message }), ctx())).attrs.message).toBe('before\ufffdafter cs1\\=forged');
  });
  it('leaves JSON alone: JSON.stringify escapes every control character', () => {
    const line = formatJson(rec({ message: C0 }), ctx());
    expect(line).toContain('\\u0000');
    expect((parseJsonLine(line) as LogRecord).message).toBe(C0);
  });
});

describe('formatCef', () => {
  it('maps the core fields and carries unknown ones', () => {
    const line = formatCef(rec({ message: 'a=b', user: 'u@x.com', host: '10.1.2.3', weird: { a: [1] }, 'odd key': null }), ctx());
    expect(line.startsWith('CEF:0|Symantec|CloudSOC|1.0.0|Investigate|Investigate Investigate|7|')).toBe(true);
    expect(line).toContain('externalId=abc123');
    expect(line).toContain(`rt=${Date.parse('2026-11-22T10:00:00.123Z')}`);
    expect(line).toContain('msg=a\\=b');
    expect(line).toContain('suser=u@x.com');
    expect(line).toContain('src=10.1.2.3');
    expect(line).toContain('ad.weird={"a":[1]}');
    expect(line).toContain('ad.odd_key=');
    expect(line).not.toMatch(/[\r\n]/);
  });
  it('shortens the longest value, never externalId or rt, and counts it', () => {
    let n = 0;
    const long = 'x'.repeat(20_000);
    const line = formatCef(rec({ message: long, name: 'short' }), ctx({ maxBytes: 1000, onTruncate: () => n++ }));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1000);
    expect(line).toContain('externalId=abc123');
    expect(line).toMatch(/msg=x+…/);
    expect(n).toBe(1);
  });
});

describe('CEF additional-data keys', () => {
  const adKeys = (line: string) => [...line.matchAll(/ (ad\.[A-Za-z0-9_]+)=/g)].map((m) => m[1]);
  it('numbers names that clean up alike, whichever comes first, and keeps record order', () => {
    expect(adKeys(formatCef(rec({ a_b: 1, 'a-b': 2, c: 3 }), ctx()))).toEqual(['ad.a_b', 'ad.a_b_2', 'ad.c']);
    expect(adKeys(formatCef(rec({ 'a-b': 1, a_b: 2, c: 3 }), ctx()))).toEqual(['ad.a_b', 'ad.a_b_2', 'ad.c']);
    expect(formatCef(rec({ 'a-b': 'x', a_b: 'y' }), ctx())).toContain('ad.a_b=x ad.a_b_2=y');
  });
  it('sends a mapped field whose value does not fit its key to ad. after the clean names, numbered if taken', () => {
    const line = formatCef(rec({ file_size: 'big', z: 1, 'file-size': 2 }), ctx());
    expect(adKeys(line)).toEqual(['ad.file_size', 'ad.z', 'ad.file_size_2']);
  });
  it('writes the same line on the fast path as on the truncating path when nothing needs cutting', () => {
    const r = rec({ message: 'a=b\nc', 'odd key': null, a_b: [1], 'a-b': { x: 1 }, file_size: 1.5, threat_score: 7 });
    expect(formatCef(r, ctx())).toBe(formatCef(r, ctx({ maxBytes: 1 << 20 })));
    const pairs = cefPairs(r, ctx()).map((p) => `${p.key}=${escapeCefValue(p.value)}`).join(' ');
    expect(formatCef(r, ctx())).toBe(cefHeader(r, ctx()) + pairs);
  });
});

describe('formatLeef', () => {
  it('declares ^ as delimiter and escapes nothing: a backslash is itself, line breaks are written as \\n and \\r', () => {
    expect(escapeLeefValue('a^b\\c\nd\re\tf')).toBe('a^b\\c\\nd\\re\ufffdf');
    const line = formatLeef(rec({ message: 'x\\y\nz', activity_type: 'Login' }), ctx());
    expect(line.startsWith('LEEF:2.0|Symantec|CloudSOC|1.0.0|Login|^|devTime=2026-11-22T10:00:00.123Z^devTimeFormat=')).toBe(true);
    expect(line).toContain('^message=x\\y\\nz^');
    expect(line).toContain('^externalId=abc123');
  });
  it('declares, per event, the first candidate delimiter that is in none of its values', () => {
    const line = formatLeef(rec({ message: 'quota^dst=203.0.113.9', city: 'a~b' }), ctx());
    expect(line.startsWith('LEEF:2.0|Symantec|CloudSOC|1.0.0|Investigate|`|devTime=')).toBe(true);
    expect(parseLeef(line).attrs).toMatchObject({ message: 'quota^dst=203.0.113.9', city: 'a~b' });
    expect(parseLeef(line).attrs.dst).toBeUndefined();
  });
  it('every candidate in some value: ^ declared, a ^ in a value written as U+FFFD, counted as truncated', () => {
    let n = 0;
    const message = `all of ${LEEF_DELIMITERS.join('')} and ^dst=203.0.113.9`;
    const line = formatLeef(rec({ message }), ctx({ onTruncate: () => n++ }));
    const got = parseLeef(line);
    expect(got.delimiter).toBe('^');
    expect(got.attrs.message).toBe(message.replaceAll('^', '\ufffd'));
    expect(got.attrs.dst).toBeUndefined();
    expect(n).toBe(1);
    // shortened as well: counted once
    n = 0;
    const long = formatLeef(rec({ message: `${message}${'x'.repeat(5000)}` }), ctx({ maxBytes: 700, onTruncate: () => n++ }));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(700);
    expect(n).toBe(1);
  });
  it('a shortened line declares a delimiter absent from its shortened values (^ again when the ^ was cut away)', () => {
    const message = `${'x'.repeat(3000)}^tail`;
    const got = parseLeef(formatLeef(rec({ message }), ctx({ maxBytes: 1000 })));
    expect(got.delimiter).toBe('^');
    expect(got.attrs.message).toMatch(/^x+…$/);
    const kept = formatLeef(rec({ message: `^${'x'.repeat(3000)}`, city: 'a^b' }), ctx({ maxBytes: 1000 }));
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(1000);
    expect(parseLeef(kept)).toMatchObject({ delimiter: '~', attrs: { city: 'a^b' } });
  });
  it('writes | and controls in header fields as U+FFFD (IBM defines no header escape), capped, the full value an attribute', () => {
    const line = formatLeef(rec({ activity_type: 'Upload|Share\\x' }), ctx({ version: '1|2' }));
    expect(line.startsWith('LEEF:2.0|Symantec|CloudSOC|1\ufffd2|Upload\ufffdShare\\x|^|')).toBe(true);
    expect(parseLeef(line).attrs.activity_type).toBe('Upload|Share\\x');
  });
  it('writes host to src only when it is an IP address, else to srcHostName', () => {
    expect(parseLeef(formatLeef(rec({ host: '10.1.2.3' }), ctx())).attrs).toMatchObject({ src: '10.1.2.3' });
    expect(parseLeef(formatLeef(rec({ host: '2001:db8::1' }), ctx())).attrs).toMatchObject({ src: '2001:db8::1' });
    const name = parseLeef(formatLeef(rec({ host: 'laptop.corp.example' }), ctx())).attrs;
    expect([name.src, name.srcHostName]).toEqual([undefined, 'laptop.corp.example']);
  });
});

describe('LEEF attribute keys', () => {
  const keys = (line: string) => Object.keys(parseLeef(line).attrs);
  it('numbers a field whose key is taken (fixed or cleaned alike) and keeps record order', () => {
    const line = formatLeef(rec({ cat: 'c', 'a-b': 1, a_b: 2 }), ctx());
    expect(keys(line)).toEqual(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'severity', 'service', 'cat_2', 'a_b', 'a_b_2']);
    // the same names the other way round: the clean ones first
    const back = formatLeef(rec({ a_b: 1, cat: 'c', 'a-b': 2 }), ctx());
    expect(keys(back)).toEqual(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'severity', 'service', 'a_b', 'cat_2', 'a_b_2']);
  });
  it('keeps externalId, usrName and src/srcHostName for _id, user and host, whatever the field order', () => {
    const fields = { src: 's', host: '10.0.0.1', usrName: 'n', user: 'u', externalId: 'not-the-id', srcHostName: 'hn' };
    const first = { externalId: 'not-the-id', usrName: 'n', src: 's', srcHostName: 'hn', _id: 'real-id', created_timestamp: '2026-11-22T10:00:00.123Z', user: 'u', host: '10.0.0.1' } as LogRecord;
    for (const r of [rec(fields), first]) {
      const line = formatLeef(r, ctx());
      expect(keys(line).slice(0, 7)).toEqual(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'usrName', 'src']);
      const attrs = parseLeef(line).attrs;
      expect([attrs.externalId, attrs.usrName, attrs.src, attrs.srcHostName]).toEqual([r._id, 'u', '10.0.0.1', undefined]);
      expect([attrs.externalId_2, attrs.usrName_2, attrs.src_2, attrs.srcHostName_2]).toEqual(['not-the-id', 'n', 's', 'hn']);
    }
    // reserved even when the mapped field is missing
    expect(parseLeef(formatLeef(rec({ src: 's' }), ctx())).attrs).toMatchObject({ src_2: 's' });
    expect(parseLeef(formatLeef(rec({ src: 's' }), ctx())).attrs.src).toBeUndefined();
  });
  it('numbers a field named like any LEEF predefined key, and keeps the rest of the record', () => {
    const fields = Object.fromEntries(LEEF_PREDEFINED.map((k) => [k, `v-${k}`]));
    const attrs = parseLeef(formatLeef(rec(fields), ctx())).attrs;
    for (const k of LEEF_PREDEFINED) expect(attrs[`${k}_2`], k).toBe(`v-${k}`);
    const own = new Set(['devTime', 'devTimeFormat', 'sev', 'cat']);
    expect(Object.keys(attrs).filter((k) => LEEF_PREDEFINED.includes(k) && !own.has(k))).toEqual([]);
  });
  it('writes the same line on the fast path as on the truncating path when nothing needs cutting', () => {
    const r = rec({ message: 'a\\b\nc', 'odd key': null, user: 'u', sev: 9, nested: { x: [1] } });
    expect(formatLeef(r, ctx())).toBe(formatLeef(r, ctx({ maxBytes: 1 << 20 })));
    // and with a ^ in a value, which takes the per-field pairs
    const caret = { ...r, message: 'a^b' };
    expect(formatLeef(caret, ctx())).toBe(formatLeef(caret, ctx({ maxBytes: 1 << 20 })));
    expect(keys(formatLeef(caret, ctx()))).toEqual(leefPairs(caret, ctx()).map((p) => p.key));
    expect(keys(formatLeef(r, ctx()))).toEqual(leefPairs(r, ctx()).map((p) => p.key));
  });
});

describe('formatJson', () => {
  it('is the record unchanged', () => {
    const r = rec({ nested: { a: null }, n: 1.5 });
    expect(JSON.parse(formatJson(r, ctx()))).toEqual(r);
  });
  it('keeps _id and created_timestamp when shortening', () => {
    const line = formatJson(rec({ message: 'y'.repeat(5000) }), ctx({ maxBytes: 600 }));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(600);
    const back = JSON.parse(line) as LogRecord;
    expect(back._id).toBe('abc123');
    expect(back.created_timestamp).toBe('2026-11-22T10:00:00.123Z');
  });
  it('shortens as many values as it takes to fit (a record with many fields)', () => {
    const r = rec();
    for (let i = 0; i < 150; i++) r[`f${String(i).padStart(3, '0')}`] = 'v'.repeat(60);
    // keys, _id, created_timestamp and a "…" per value are ~2.4 KB: 4000 is reachable
    const line = formatJson(r, ctx({ maxBytes: 4000 }));
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(4000);
    expect(Object.keys(parseJsonLine(line) as LogRecord)).toEqual(Object.keys(r));
    // and stops when it cannot fit: only what may not be cut is left
    const tight = parseJsonLine(formatJson(r, ctx({ maxBytes: 100 }))) as Record<string, string>;
    expect(tight.f149).toBe('…');
    expect(tight._id).toBe('abc123');
  });
  it('keeps a lone surrogate of the API value when shortening (JSON writes it as \\ud800)', () => {
    const message = `\ud800${'x'.repeat(5000)}`;
    expect((parseJsonLine(formatJson(rec({ message }), ctx())) as LogRecord).message).toBe(message);
    const cut = (parseJsonLine(formatJson(rec({ message }), ctx({ maxBytes: 600 }))) as Record<string, string>).message!;
    expect(cut.endsWith('…')).toBe(true);
    expect(message.startsWith(cut.slice(0, -1))).toBe(true);
    expect(cut.startsWith('\ud800x')).toBe(true);
  });
});

describe('cutUtf8', () => {
  it('never splits a multi-byte character', () => {
    const s = cutUtf8('é'.repeat(100), 11);
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(11);
    expect(s).toBe('éééé…');
    expect(cutUtf8('😀😀😀', 8)).toBe('😀…');
    expect(cutUtf8('😀😀😀', 10)).toBe('😀…');
    expect(cutUtf8('a😀😀', 7)).toBe('a…');
  });
  it('keeps a lone surrogate of the value (counted as the 3 bytes of U+FFFD), so the cut is a prefix', () => {
    expect(cutUtf8('\ud800xyz', 7)).toBe('\ud800x…');
    expect(cutUtf8('ab\udfffxyz', 8)).toBe('ab\udfff…');
    expect(cutUtf8('ab\ud800', 6)).toBe('ab…');
    expect(Buffer.byteLength(cutUtf8('\ud800\ud800\ud800', 9))).toBeLessThanOrEqual(9);
  });
});

describe('the escape functions\' quick test agrees with their replacement, for every UTF-16 code unit', () => {
  it('CEF escapes exactly \\ = and the C0 controls but TAB; LEEF changes exactly the C0 controls, TAB too', () => {
    const cefSet = /[\\=\x00-\x08\x0a-\x1f]/;
    const leefSet = /[\x00-\x1f]/;
    const wrong: string[] = [];
    for (let u = 0; u < 0x10000; u++) {
      const c = String.fromCharCode(u);
      if ((escapeCefValue(`a${c}b`) !== `a${c}b`) !== cefSet.test(c)) wrong.push(`cef ${u.toString(16)}`);
      if ((escapeLeefValue(`a${c}b`) !== `a${c}b`) !== leefSet.test(c)) wrong.push(`leef ${u.toString(16)}`);
      // formatLeef's own quick test (controls and ^) lets through exactly what needs no change
      const leef = parseLeef(formatLeef(rec({ message: `a${c}b` }), ctx()));
      if (leef.attrs.message !== escapeLeefValue(`a${c}b`) || leef.delimiter !== (c === '^' ? '~' : '^')) wrong.push(`formatLeef ${u.toString(16)}`);
    }
    expect(wrong).toEqual([]);
  });
});
