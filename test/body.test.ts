// The client reads each page body into a reused buffer (src/source/body.ts): the bytes must be
// exactly the body's, whatever the chunking and size, and a body still held is never overwritten.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBody } from '../src/source/body.js';

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

describe('readBody', () => {
  it('gives exactly the concatenated chunks, for any chunking and size hint', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 5000 }), { maxLength: 20 }), fc.nat(3_000_000), async (parts, hint) => {
      const { body, release } = await readBody(chunks(parts), hint);
      expect(body.equals(Buffer.concat(parts))).toBe(true);
      release();
    }), { numRuns: 200 });
  });

  it('grows past its first buffer and past the size it keeps (a 10 MB page)', async () => {
    const big = Buffer.alloc(10 << 20, 0x61);
    big[big.length - 1] = 0x62;
    const parts = Array.from({ length: 160 }, (_, i) => big.subarray(i * 65536, (i + 1) * 65536));
    const { body, release } = await readBody(chunks(parts), 0);
    expect(body.length).toBe(big.length);
    expect(body.equals(big)).toBe(true);
    release();
  });

  it('never hands out a buffer that is still held; reuses it once released', async () => {
    const a = await readBody(chunks([Buffer.from('first body')]), 0);
    const b = await readBody(chunks([Buffer.from('second body')]), 0);
    expect(a.body.toString()).toBe('first body');
    expect(b.body.toString()).toBe('second body');
    expect(a.body.buffer).not.toBe(b.body.buffer);
    a.release();
    a.release(); // twice is harmless: the buffer is pooled once
    const c = await readBody(chunks([Buffer.from('third')]), 0);
    const d = await readBody(chunks([Buffer.from('fourth')]), 0);
    expect(c.body.buffer).toBe(a.body.buffer);
    expect(d.body.buffer).not.toBe(a.body.buffer);
    expect(b.body.toString()).toBe('second body');
    for (const x of [b, c, d]) x.release();
  });
});
