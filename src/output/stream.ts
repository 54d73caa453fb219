import { OutputError } from '../errors.js';
import { encodeLines } from './encode.js';
import type { Output } from './types.js';

/**
 * stdout or stderr. A line counts as delivered once the stream's write callback fired; a
 * closed pipe (EPIPE, e.g. `| head`) fails the write, so nothing after it is checkpointed.
 */
export function streamOutput(which: 'STDOUT' | 'STDERR'): Output {
  const stream = which === 'STDOUT' ? process.stdout : process.stderr;
  let broken: NodeJS.ErrnoException | undefined;
  const onError = (e: NodeJS.ErrnoException) => {
    broken = e;
  };
  return {
    name: `STREAM ${which}`,
    async open() {
      stream.on('error', onError);
    },
    write(lines) {
      return new Promise((resolve, reject) => {
        const fail = (e: NodeJS.ErrnoException) =>
          reject(new OutputError(e.code === 'EPIPE' ? `${which} was closed by its reader (EPIPE)` : `${which}: ${e.code ?? e.message}`, 0, e.code));
        if (broken) return fail(broken);
        stream.write(encodeLines(lines), (err) => (err ? fail(err as NodeJS.ErrnoException) : resolve()));
      });
    },
    async close() {
      stream.off('error', onError);
    },
  };
}
