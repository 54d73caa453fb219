import { open, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content,
 * never a mix: temp file in the same directory, fsync, rename, fsync of the directory.
 */
let seq = 0;

export async function writeFileAtomic(path: string, data: string, opts: { fsync?: boolean; mode?: number } = {}): Promise<void> {
  const sync = opts.fsync ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++seq}.tmp`);
  const fh = await open(tmp, 'w', opts.mode ?? 0o600);
  try {
    try {
      await fh.writeFile(data, 'utf8');
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    // a full disk must not also collect a temp file per attempt, run after run
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // the rename itself is only durable once the directory entry is on disk
  if (sync) await syncDirectory(dirname(path));
}

/** fsync of a directory: renames and new files in it are durable after this. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some filesystems refuse fsync on a directory; the data files are synced on their own */
  } finally {
    await fh.close();
  }
}
