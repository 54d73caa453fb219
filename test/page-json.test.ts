// The client parses a page log by log from the body's bytes (src/source/page-json.ts). It must
// give exactly what JSON.parse gave for the whole text before, for any page, and fail exactly
// when JSON.parse fails, for any damaged one.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bodyText, fastParse, parseBody, splitPage } from '../src/source/page-json.js';
import { EXACT, isExact, unmark, unmarkJson } from '../src/exact-numbers.js';

/** What the client did before: undici's text() (BOM skipped, UTF-8), then JSON.parse. */
function oracle(b: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(bodyText(b)) };
  } catch {
    return { ok: false };
  }
}

/** A number kept as its digits (exact-numbers.ts) compared as the number JSON.parse makes of it. */
function asParsed(v: unknown): unknown {
  if (typeof v === 'string') return isExact(v) ? Number(unmark(v)) : v;
  if (Array.isArray(v)) return v.map(asParsed);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asParsed(x)]));
  return v;
}

function ours(b: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: asParsed(parseBody(b)) };
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

describe('numbers JSON.parse would change (src/exact-numbers.ts)', () => {
  const log = '{"_id":"a1","n1":9007199254740993,"n2":-12345678901234567890,"n3":0.1000000000000000055511151231257827,' +
    '"same1":9007199254740992,"same2":1.0000000000000000,"small":42,"s":"12345678901234567890","deep":{"a":[123456789012345678901]}}';
  const expectExact = (r: Record<string, unknown>) => {
    expect(r.n1).toBe(`${EXACT}9007199254740993`);
    expect(r.n2).toBe(`${EXACT}-12345678901234567890`);
    expect(r.n3).toBe(`${EXACT}0.1000000000000000055511151231257827`);
    expect((r.deep as { a: unknown[] }).a[0]).toBe(`${EXACT}123456789012345678901`);
    // numbers JSON.parse keeps, and digits inside strings, are left as they are
    expect([r.same1, r.same2, r.small, r.s]).toEqual([9007199254740992, 1, 42, '12345678901234567890']);
    expect(unmarkJson(JSON.stringify(r))).toBe(log.replace('1.0000000000000000', '1'));
  };

  it('the fast path keeps their digits, as marked strings the formats write back', () => {
    const body = Buffer.from(`{"meta":{"next":null},"logs":[{"_id":"a0","n":1},${log}]}`);
    const split = splitPage(body, () => undefined)!;
    expect(split.logs.at(0)).toEqual({ _id: 'a0', n: 1 });
    expectExact(split.logs.at(1) as Record<string, unknown>);
  });

  it('the slow path (a body JSON.parse reads whole: here, one with a BOM) does too', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`{"meta":{"next":null},"logs":[${log}]}`)]);
    expectExact((parseBody(body) as { logs: Record<string, unknown>[] }).logs[0]!);
  });

  it('any integer, however long, comes back with the digits it had (JSON written back = JSON received)', () => {
    const int = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
    fc.assert(fc.property(fc.array(int, { minLength: 1, maxLength: 6 }), (ns) => {
      const text = `{"_id":"x",${ns.map((n, i) => `"n${i}":${n}`).join(',')}}`;
      const body = Buffer.from(`{"meta":{"next":null},"logs":[${text}]}`);
      expect(unmarkJson(JSON.stringify(splitPage(body, () => undefined)!.logs.at(0)))).toBe(text);
    }));
  });

  it('unmark gives the digits of a marked value and leaves every other string alone', () => {
    expect(unmark(`${EXACT}123`)).toBe('123');
    expect(unmark('\ue000abc:123')).toBe('\ue000abc:123');
    expect(unmarkJson('{"a":"\ue000abc:1"}')).toBe('{"a":"\ue000abc:1"}');
  });
});
