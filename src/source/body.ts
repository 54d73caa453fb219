/**
 * Reads a response body into a reused buffer. A page body is ~0.6 MB; a fresh buffer per page
 * (undici's `bytes()`) costs ~140 page faults of ~10 µs each on a small VM, more than the copy
 * itself. In a 20,000-log profile (`--cpu-prof`): undici's chunksConcat 41 ms, readBody 8 ms.
 * The caller must be done with `body` (parsing copies every string out of it) before `release()`.
 */
export interface Body {
  body: Buffer;
  release(): void;
}

const free: Buffer[] = [];
const KEEP_COUNT = 4; // one per app, and a spare or two while a page grows
/** Bodies larger than this are read into a one-off buffer, so memory stays flat. */
const KEEP_MAX = 4 << 20;

/** Thrown by readBody for a body over its limit (the stream is abandoned, so the request ends). */
export class BodyTooLarge extends Error {}

export async function readBody(stream: AsyncIterable<Uint8Array>, sizeHint: number, maxBytes = Infinity): Promise<Body> {
  if (sizeHint > maxBytes) throw new BodyTooLarge();
  let buf = free.pop() ?? Buffer.allocUnsafe(Math.min(Math.max(sizeHint, 1 << 20), KEEP_MAX));
  let len = 0;
  for await (const chunk of stream) {
    if (len + chunk.length > maxBytes) {
      keep(buf);
      throw new BodyTooLarge();
    }
    if (len + chunk.length > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, len + chunk.length));
      buf.copy(bigger, 0, 0, len);
      keep(buf);
      buf = bigger;
    }
    buf.set(chunk, len);
    len += chunk.length;
  }
  let released = false;
  return {
    body: buf.subarray(0, len),
    release: () => {
      if (released) return;
      released = true;
      keep(buf);
    },
  };
}

function keep(buf: Buffer): void {
  if (buf.length <= KEEP_MAX && free.length < KEEP_COUNT) free.push(buf);
}
