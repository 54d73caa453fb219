import { OutputError } from './errors.js';
import { sleep } from './sleep.js';
import type { Output } from './output/types.js';

/**
 * A smooth token bucket: `rate` tokens per second, at most `burst` saved up. Waiting is a
 * timer, never a poll, so a slow rate costs no CPU.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(readonly rate: number, readonly burst: number) {
    this.tokens = burst;
  }

  /** Resolves when n (≤ burst) tokens are taken. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000);
      this.last = now;
      if (this.tokens >= n) {
        this.tokens -= n;
        return;
      }
      const waitMs = Math.ceil(((n - this.tokens) * 1000) / this.rate);
      await sleep(waitMs, signal, 'rate limiting');
    }
  }
}

/**
 * Lines per second → the largest step. Datagram receivers (UDP, the local socket) need a steady
 * trickle (ticks of ~20 ms) or their socket buffer overflows. Streams, files and TCP/TLS take
 * steps of up to a second's worth: `rate` lines a second, with one wake-up and one write a second.
 * Each wake-up of an idle process costs far more CPU than its write on a small VM: 5,000 logs at
 * --rate 500 took 0.55-0.64 s of CPU in 100 ms steps, 0.47-0.53 s in 1 s steps (unpaced 0.45-0.49).
 */
export function burstFor(rate: number, datagrams: boolean): number {
  return Math.max(1, Math.floor(datagrams ? rate / 50 : rate));
}

/**
 * Wraps an output so that its writes are paced by the bucket: a page goes out in chunks of at
 * most `burst` lines. A failure or a stop mid-page reports how many lines went out before it.
 */
export function paced(inner: Output, bucket: TokenBucket, signal: AbortSignal): Output {
  return {
    name: inner.name,
    open: () => inner.open(),
    close: () => inner.close(),
    confirm: inner.confirm?.bind(inner),
    async write(lines, severities) {
      let done = 0;
      while (done < lines.length) {
        const n = Math.min(bucket.burst, lines.length - done);
        try {
          await bucket.take(n, signal);
        } catch (e) {
          throw new OutputError((e as Error).message, done, 'STOPPED');
        }
        try {
          if (done === 0 && n === lines.length) await inner.write(lines, severities);
          else await inner.write(lines.slice(done, done + n), severities?.slice(done, done + n));
        } catch (e) {
          if (e instanceof OutputError) throw new OutputError(e.message, done + e.delivered, e.code);
          throw e;
        }
        done += n;
      }
    },
  };
}
