// Property-based: random records through every format; an independent parser written from each
// format's spec (test/helpers/parsers.ts, not the formatters) must recover every field exactly,
// or as the documented truncation (a prefix of the value followed by "…").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cefHeader, cefPairs, escapeCefValue, formatCef } from '../src/format/cef.js';
import { escapeLeefValue, formatLeef, leefPairs } from '../src/format/leef.js';
import { formatJson } from '../src/format/json.js';
import type { LogRecord } from '../src/types.js';
import { parseCef, parseJsonLine, parseLeef } from './helpers/parsers.js';
import { CEF_CUSTOM, CEF_STANDARD, LEEF_DELIMITERS, cefExpected, leefExpected, truncatedOk } from './helpers/expected.js';

const hostile = fc.oneof(
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: fc.constantFrom('|', '=', '\\', '\r', '\n', '\0', '\t', '^', ' ', 'a', 'é', '😀', '"', '#') }),
  // LEEF's delimiter candidates: values that rule out the first ones, and (~1 record in 6) all of them
  fc.shuffledSubarray([...LEEF_DELIMITERS, '=', 'x', 'x'], { minLength: 12 }).map((a) => a.join('')),
  fc.string({ unit: 'binary' }),
);
const value = fc.oneof(
  { weight: 6, arbitrary: hostile },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const knownKeys = [...Object.keys(CEF_STANDARD), ...Object.keys(CEF_CUSTOM), 'city', 'country', 'inserted_timestamp', '_domain'];
const fieldName = fc.oneof(fc.constantFrom(...knownKeys), fc.string({ minLength: 1, maxLength: 12 }));
const record = fc.record({
  _id: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
  created_timestamp: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  rest: fc.dictionary(fieldName, value, { maxKeys: 12 }),
}).map(({ _id, created_timestamp, rest }) => {
  const r: LogRecord = { _id, created_timestamp };
  for (const [k, v] of Object.entries(rest)) if (k !== '_id' && k !== 'created_timestamp' && k !== '__proto__') r[k] = v;
  return r;
});

const ctx = (maxBytes = 0) => ({ app: 'Investigate', version: '1.0.0', maxBytes });

describe('every format survives hostile records (property-based)', () => {
  it('CEF: the spec parser recovers every field', () => {
    fc.assert(fc.property(record, (r) => {
      const want = cefExpected(r);
      fc.pre(want !== undefined);
      const line = formatCef(r, ctx());
      expect(line).not.toMatch(/[\r\n]/);
      const parsed = parseCef(line);
      for (const [k, v] of Object.entries(want!)) expect(parsed.extension[k], `key ${k}`).toBe(v);
    }), { numRuns: 400 });
  });

  it('LEEF: the spec parser recovers every field', () => {
    fc.assert(fc.property(record, (r) => {
      const want = leefExpected(r);
      fc.pre(want !== undefined);
      const line = formatLeef(r, ctx());
      expect(line).not.toMatch(/[\r\n]/);
      const parsed = parseLeef(line);
      expect(parsed.attrs.devTime).toBe(new Date(Date.parse(r.created_timestamp)).toISOString());
      for (const [k, v] of Object.entries(want!)) expect(parsed.attrs[k], `key ${k}`).toBe(v);
    }), { numRuns: 400 });
  });

  it('CEF and LEEF: the fast path writes exactly the pairs the truncating path works on', () => {
    fc.assert(fc.property(record, (r) => {
      const cef = cefPairs(r, ctx()).map((p) => `${p.key}=${escapeCefValue(p.value)}`).join(' ');
      expect(formatCef(r, ctx())).toBe(cefHeader(r, ctx()) + cef);
      // LEEF: the first candidate delimiter in none of the values; none free: ^, and ^ in values as U+FFFD
      const pairs = leefPairs(r, ctx());
      const free = LEEF_DELIMITERS.find((d) => pairs.every((p) => !p.value.includes(d)));
      const d = free ?? '^';
      const leef = pairs.map((p) => `${p.key}=${free ? escapeLeefValue(p.value) : escapeLeefValue(p.value).replaceAll('^', '\ufffd')}`).join(d);
      const line = formatLeef(r, ctx());
      expect(line.endsWith(`|${d}|${leef}`)).toBe(true);
      expect(line).toBe(formatLeef(r, ctx(1 << 24)));
    }), { numRuns: 400 });
  });

  it('JSON: the record comes back unchanged', () => {
    fc.assert(fc.property(record, (r) => {
      const line = formatJson(r, ctx());
      expect(line).not.toMatch(/[\r\n]/);
      expect(parseJsonLine(line)).toEqual(JSON.parse(JSON.stringify(r)));
    }), { numRuns: 400 });
  });

  it('with --max_message_size every format stays parseable, fits, and only shortens values', () => {
    fc.assert(fc.property(record, fc.integer({ min: 512, max: 4096 }), (r, max) => {
      // a 1 MB value next to the random ones
      const big = { ...r, message: `${'m'.repeat(1 << 20)}|=\\\n` };
      const want = cefExpected(big);
      fc.pre(want !== undefined);
      const cef = formatCef(big, ctx(max));
      const parsed = parseCef(cef).extension;
      expect(parsed.externalId).toBe(r._id);
      expect(parsed.rt).toBe(want!.rt);
      for (const [k, v] of Object.entries(want!)) expect(truncatedOk(parsed[k]!, v), `key ${k}`).toBe(true);
      // it fits unless the never-cut parts (header ≤ ~400 bytes, externalId, rt, keys) alone come near the limit
      if (Buffer.byteLength(r._id) * 2 + 900 < max) expect(Buffer.byteLength(cef)).toBeLessThanOrEqual(max);

      const leefLine = formatLeef(big, ctx(max));
      const leef = parseLeef(leefLine).attrs;
      expect(leef.externalId).toBe(r._id);
      const leefWant = leefExpected(big);
      if (leefWant) for (const [k, v] of Object.entries(leefWant)) expect(truncatedOk(leef[k]!, v), `LEEF key ${k}`).toBe(true);
      if (Buffer.byteLength(r._id) * 2 + 900 < max) expect(Buffer.byteLength(leefLine)).toBeLessThanOrEqual(max);
      const json = parseJsonLine(formatJson(big, ctx(max))) as Record<string, unknown>;
      expect(json._id).toBe(r._id);
      expect(json.created_timestamp).toBe(r.created_timestamp);
      expect(truncatedOk(json.message as string, big.message)).toBe(true);
    }), { numRuns: 60 });
  });
});
