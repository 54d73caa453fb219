import { describe, expect, it } from 'vitest';
import { cefHeader, cefPairs, escapeCefHeader, escapeCefValue, formatCef } from '../src/format/cef.js';
import { escapeLeefValue, formatLeef, leefPairs } from '../src/format/leef.js';
import { formatJson } from '../src/format/json.js';
import { cutUtf8, type FormatContext } from '../src/format/fields.js';
import type { LogRecord } from '../src/types.js';

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
  it('declares ^ as delimiter and escapes it, backslashes and line breaks', () => {
    expect(escapeLeefValue('a^b\\c\nd')).toBe('a\\^b\\\\c\\nd');
    const line = formatLeef(rec({ message: 'x^y', activity_type: 'Login' }), ctx());
    expect(line.startsWith('LEEF:2.0|Symantec|CloudSOC|1.0.0|Login|^|devTime=2026-11-22T10:00:00.123Z^devTimeFormat=')).toBe(true);
    expect(line).toContain('^message=x\\^y');
    expect(line).toContain('^externalId=abc123');
  });
});

describe('LEEF attribute keys', () => {
  const keys = (line: string) => line.split('|').slice(6).join('|').split(/(?<!\\)\^/).map((a) => a.slice(0, a.indexOf('=')));
  it('numbers a field whose key is taken (fixed, renamed or cleaned alike) and keeps record order', () => {
    const line = formatLeef(rec({ cat: 'c', 'a-b': 1, a_b: 2, src: 's', host: 'h' }), ctx());
    expect(keys(line)).toEqual(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'severity', 'service', 'cat_2', 'a_b', 'a_b_2', 'src', 'src_2']);
    expect(line).toContain('^src=s^src_2=h');
    // the same names the other way round: the clean ones first
    const back = formatLeef(rec({ a_b: 1, host: 'h', cat: 'c', 'a-b': 2, src: 's' }), ctx());
    expect(keys(back)).toEqual(['devTime', 'devTimeFormat', 'sev', 'cat', 'externalId', 'severity', 'service', 'a_b', 'src', 'cat_2', 'a_b_2', 'src_2']);
    expect(back).toContain('^src=h^');
  });
  it('writes the same line on the fast path as on the truncating path when nothing needs cutting', () => {
    const r = rec({ message: 'a^b\nc', 'odd key': null, user: 'u', sev: 9, nested: { x: [1] } });
    expect(formatLeef(r, ctx())).toBe(formatLeef(r, ctx({ maxBytes: 1 << 20 })));
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
});

describe('cutUtf8', () => {
  it('never splits a multi-byte character', () => {
    const s = cutUtf8('é'.repeat(100), 11);
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(11);
    expect(s).toBe('éééé…');
    expect(cutUtf8('😀😀😀', 8)).toBe('😀…');
  });
});
