import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutputError } from '../errors.js';
import { encodeLines } from './encode.js';
import { turns } from './turns.js';
import { syncDirectory } from '../state/atomic-write.js';
import type { Output } from './types.js';

export interface FileOptions {
  path: string;
  maxBytes: number;    // rollover only when both maxBytes and backupCount are > 0 (the old agent's rule)
  backupCount: number;
}

/**
 * Appends lines to a file, fsyncs in confirm() (once per page) and rotates like Python's
 * RotatingFileHandler: before a line that would take the file to maxBytes or more, PATH becomes
 * PATH.1, PATH.1 becomes PATH.2 ... PATH.N is dropped. A line is never split across files.
 * (rotating-file-stream cannot fsync and rotates after a chunk has crossed the limit, so the
 * delivery file uses this small writer; the agent's own log uses rotating-file-stream.)
 */
export function fileOutput(o: FileOptions, warn: (msg: string) => void = () => undefined): Output {
  let fh: FileHandle | undefined;
  let size = 0;
  let tailChecked = false;
  const rotating = o.maxBytes > 0 && o.backupCount > 0;
  // Two apps share the output: a confirm (fsync, then the check that PATH is still this file) must
  // not run while the other app's write is half-way (its rotation swaps the handle; its bytes are
  // not yet counted), so writes and confirms take turns.
  const exclusive = turns();
  const fail = (e: unknown, delivered: number): OutputError => {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOSPC' ? 'disk full' : code === 'EROFS' ? 'read-only file system' : code === 'EACCES' ? 'permission denied' : code === 'EFBIG' ? 'file too large' : code ?? String(e);
    return new OutputError(`output file ${o.path}: cannot write (${why})`, delivered, code);
  };

  async function reopen(): Promise<void> {
    fh = await open(o.path, 'a', 0o640);
    size = (await fh.stat()).size;
  }

  async function rotate(): Promise<void> {
    await fh!.sync(); // what went into PATH is on disk before PATH becomes PATH.1
    await fh!.close();
    fh = undefined;
    for (let i = o.backupCount - 1; i >= 1; i--) {
      await rename(`${o.path}.${i}`, `${o.path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    await rename(o.path, `${o.path}.1`);
    await reopen();
    // the renames and the new PATH are durable before a page in it is confirmed (a power loss
    // must not leave the marker past lines whose file has no directory entry)
    await syncDirectory(dirname(o.path));
  }

  /**
   * A run killed in the middle of a write leaves the file ending in a cut line, and the next line
   * appended would be glued to it. End it with a line break: the cut line is a fragment of a
   * page that was never checkpointed, so its logs are sent again in full. (Cutting the file back
   * instead would make a forwarder tailing it see a truncated file and read it all again.)
   * Done at the first write, not at open, so `check` never changes the file.
   */
  async function endCutLine(): Promise<void> {
    tailChecked = true;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    const rh = await open(o.path, 'r').catch(() => undefined); // unreadable: nothing to learn
    if (!rh) return;
    try {
      const { bytesRead } = await rh.read(last, 0, 1, size - 1);
      if (bytesRead !== 1 || last[0] === 0x0a) return;
    } finally {
      await rh.close();
    }
    await writeChunk(Buffer.from('\n'));
    warn(`output file ${o.path} ended in the middle of a line (a run was stopped while writing it); ended that line so the next one stands alone; its logs are written again in full`);
  }

  /**
   * Writes one chunk completely. A failure (disk full) may leave part of a line: it stays, and the
   * next run ends it (endCutLine); cutting the file back would make a forwarder tailing it see it
   * shrink and read it all again.
   */
  async function writeChunk(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await fh!.write(data, off, data.length - off);
      off += bytesWritten;
    }
    size += data.length;
  }

  /**
   * Whether PATH is still the file this run writes, as it left it. logrotate may rename it (then
   * compress and delete it), delete it, or copy and truncate it (copytruncate) while a run goes
   * on: the lines written since, though fsynced, are then in no file a forwarder reads.
   */
  async function stillOurs(): Promise<string | undefined> {
    const [mine, there] = await Promise.all([fh!.stat(), stat(o.path).catch(() => undefined)]);
    if (!there || there.ino !== mine.ino || there.dev !== mine.dev || mine.nlink === 0) return 'was removed or replaced';
    if (mine.size < size) return 'was truncated';
    return undefined;
  }

  return {
    name: 'FILE',
    async open() {
      try {
        await mkdir(dirname(o.path), { recursive: true });
        const st = await stat(o.path).catch(() => undefined);
        if (st && !st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
        await reopen();
        if (!st) await syncDirectory(dirname(o.path)); // a new file's entry, as for a rotation
      } catch (e) {
        throw fail(e, 0);
      }
    },
    write: (lines) => exclusive(async () => {
      if (!fh) throw new OutputError(`output file ${o.path}: not open`);
      let delivered = 0;
      try {
        if (!tailChecked) await endCutLine();
        if (!rotating) {
          await writeChunk(encodeLines(lines));
          delivered = lines.length;
          return;
        }
        let start = 0;
        let pending = 0; // bytes of lines[start..i)
        for (let i = 0; i < lines.length; i++) {
          const len = Buffer.byteLength(lines[i]!, 'utf8') + 1;
          if (size + pending + len >= o.maxBytes && size + pending > 0) {
            if (pending > 0) {
              await writeChunk(encodeLines(lines.slice(start, i)));
              delivered = i;
            }
            start = i;
            pending = 0;
            await rotate();
          }
          pending += len;
        }
        if (start < lines.length) await writeChunk(encodeLines(lines.slice(start)));
        delivered = lines.length;
      } catch (e) {
        throw fail(e, delivered);
      }
    }),
    // one fsync per page (deliver.ts calls confirm before the marker moves), not per paced chunk
    confirm: () => exclusive(async () => {
      let gone: string | undefined;
      try {
        await fh?.sync();
        if (fh) gone = await stillOurs();
      } catch (e) {
        throw fail(e, 0);
      }
      if (gone) {
        // this page is not checkpointed: the next run writes it again, to the file now at PATH
        throw new OutputError(`output file ${o.path} ${gone} during the run (log rotation? use logrotate's create, not copytruncate, and delaycompress); stopped: the next run writes the unconfirmed logs again`, 0, 'EGONE');
      }
    }),
    async close() {
      await fh?.close().catch(() => undefined);
      fh = undefined;
    },
  };
}
