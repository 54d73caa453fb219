// The client parses a page log by log from the body's bytes (src/source/page-json.ts). It must
// give exactly what JSON.parse gave for the whole text before, for any page, and fail exactly
// when JSON.parse fails, for any damaged one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyText, fastParse, parseBody } from '../src/source/page-json.js';

/** What the client did before: undici's text() (BOM skipped, UTF-8), then JSON.parse. */
function oracle(b: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bodyText(b)) };
  } catch {
    return { ok: false };
  }
}

function ours(b: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parseBody(b) };
  } catch {
    return { ok: false };
  }
}

// strings that trip a byte scanner: quotes, backslash runs, brackets, the key itself, non-ASCII
const nasty = fc.oneof(
  fc.string(),
  fc.string({ unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'logs', '"logs":[', 'é', '東', '😀', '\u2028', '\0') }),
);
const record = fc.dictionary(fc.oneof(fc.constantFrom('_id', 'created_timestamp', 'logs', 'a"b', 'x\\'), nasty), fc.oneof(nasty, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(nasty, { maxLength: 3 }), fc.dictionary(nasty, nasty, { maxKeys: 3 })), { maxKeys: 8 });
const page = fc.record({
  meta: fc.record({ limit: fc.nat(), next: fc.oneof(fc.constant(null), nasty), logs: fc.array(record, { maxLength: 2 }) }, { requiredKeys: [] }),
  logs: fc.array(record, { maxLength: 12 }),
  extra: fc.jsonValue(),
}, { requiredKeys: ['logs'] });
const spacing = fc.constantFrom(undefined, 0, 1, 2, '\t', ' \r\n');

describe('parseBody (a page parsed log by log)', () => {
  it('gives what JSON.parse gives, and takes the fast path, for any page', () => {
    fc.assert(fc.property(page, spacing, (p, space) => {
      const b = Buffer.from(JSON.stringify(p, null, space), 'utf8');
      expect(fastParse(b)).toEqual(JSON.parse(b.toString()));
      expect(ours(b)).toEqual(oracle(b));
    }), { numRuns: 400 });
  });

  it('gives what JSON.parse gives, or fails as it does, for any damaged page', () => {
    const damage = fc.tuple(page, fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x0a, 0x30, 0xff, 0xc3, 0xef, 0x6c)), { minLength: 1, maxLength: 3 }));
    fc.assert(fc.property(damage, ([p, edits]) => {
      let b = Buffer.from(JSON.stringify(p), 'utf8');
      for (const [pos, op, byte] of edits) {
        const at = pos % (b.length + 1);
        if (op === 0) b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]); // insert
        else if (op === 1) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]); // delete
        else if (at < b.length) b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at + 1)]); // replace
      }
      expect(ours(b)).toEqual(oracle(b));
    }), { numRuns: 2000 });
  });

  it('gives what JSON.parse gives for any JSON document at all', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const b = Buffer.from(JSON.stringify(v), 'utf8');
      expect(ours(b)).toEqual(oracle(b));
    }), { numRuns: 500 });
  });

  it.each([
    ['a BOM', '\ufeff{"logs":[{"_id":"a"}]}'],
    ['two "logs" keys (JSON.parse keeps the last)', '{"logs":[{"_id":"a"}],"logs":[{"_id":"b"}]}'],
    ['an escaped key', '{"lo\\u0067s":[{"_id":"a"}]}'],
    ['an escaped "logs" key after the plain one (JSON.parse keeps the last)', '{"logs":[{"_id":"a"}],"lo\\u0067s":[{"_id":"b"}]}'],
    ['a log that is not an object', '{"logs":[{"_id":"a"},7,"x",null]}'],
    ['"logs" inside meta before the real one', '{"meta":{"logs":[{"_id":"m"}]},"logs":[{"_id":"a"}]}'],
    ['an escaped quote before "logs"', '{"x\\"logs":[{"_id":"m"}],"logs":[]}'],
    ['backslash runs before quotes', '{"logs":[{"a":"\\\\","b":"\\\\\\"]","c":"\\\\\\\\"}]}'],
    ['a trailing comma', '{"logs":[{"_id":"a"},]}'],
    ['garbage after the document', '{"logs":[{"_id":"a"}]} x'],
    ['unbalanced brackets in a log', '{"logs":[{"a":[}]]}'],
    ['invalid UTF-8 in a value', Buffer.from([...Buffer.from('{"logs":[{"a":"'), 0xff, 0xfe, ...Buffer.from('"}]}')])],
    ['no logs key', '{"meta":{}}'],
    ['an empty body', ''],
  ])('%s: same as JSON.parse', (_name, text) => {
    const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    expect(ours(b)).toEqual(oracle(b));
  });

  it('takes the fast path on a typical page, with logs of several hundred bytes', () => {
    const logs = Array.from({ length: 50 }, (_, i) => ({ _id: `id${i}`, created_timestamp: '2026-11-18T21:59:59.196Z', location: '東京, Japan', message: `a "quoted" \\ message ${i}`, nested: { logs: [1, { x: ']' }] } }));
    const b = Buffer.from(JSON.stringify({ meta: { limit: 50, total_count: 50, next: null }, logs }));
    expect(fastParse(b)).toEqual({ meta: { limit: 50, total_count: 50, next: null }, logs });
  });
});
