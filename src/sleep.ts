import { InterruptedError } from './errors.js';

/** A timer that a stop (signal, --max_runtime) cuts short with an InterruptedError. */
export function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError(`stopped while ${what}`));
    const onAbort = () => {
      clearTimeout(t);
      reject(new InterruptedError(`stopped while ${what}`));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
