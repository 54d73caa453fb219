// The outputs encode a page with encodeLines (one buffer, one write); it must produce exactly the
// bytes Buffer.from would, for any text, including lone surrogates and lines far longer than its
// first size estimate.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLines } from '../src/output/encode.js';

const text = fc.oneof(
  fc.string({ unit: 'binary' }), // any UTF-16 code unit, lone surrogates included
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\ud800', '\udfff', '\n', '\0') }),
);

describe('encodeLines', () => {
  it('gives the bytes of Buffer.from(lines.join("\\n") + "\\n") for any lines', () => {
    fc.assert(fc.property(fc.array(text, { maxLength: 50 }), (lines) => {
      const want = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
      expect(encodeLines(lines).equals(want)).toBe(true);
    }), { numRuns: 500 });
  });

  it('applies the per-line mapping and no terminator when asked (octet framing)', () => {
    fc.assert(fc.property(fc.array(text, { maxLength: 20 }), (lines) => {
      const map = (l: string, i: number) => `${Buffer.byteLength(l)} <${i}>${l}`;
      const want = Buffer.from(lines.map(map).join(''), 'utf8');
      expect(encodeLines(lines, '', map).equals(want)).toBe(true);
    }));
  });

  it('grows past its first estimate: a page of 3- and 4-byte characters', () => {
    const lines = ['€'.repeat(100_000), '😀'.repeat(50_000), 'x'];
    const out = encodeLines(lines);
    expect(out.length).toBe(300_000 + 1 + 200_000 + 1 + 2);
    expect(out.toString('utf8')).toBe(`${lines.join('\n')}\n`);
  });

  it('an empty page is an empty buffer', () => {
    expect(encodeLines([]).length).toBe(0);
  });
});
