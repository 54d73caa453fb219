import { open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file so that a reader (or a crash) sees either the old or the new content,
 * never a mix: temp file in the same directory, fsync, rename, fsync of the directory.
 */
let seq = 0;

export async function writeFileAtomic(path: string, data: string, opts: { fsync?: boolean; mode?: number } = {}): Promise<void> {
  const sync = opts.fsync ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++seq}.tmp`);
  const fh = await openExclusive(tmp, opts.mode ?? 0o600);
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

/**
 * Creates `tmp` anew (O_EXCL: never through a link, never into someone else's file). Its name is
 * predictable (pid and a counter), so whoever can write to the state directory could plant a
 * link there for a root run to write through; and a stale one left by a crashed run with the same
 * pid is removed (unlink removes a link itself, never its target) and created again once.
 */
async function openExclusive(tmp: string, mode: number) {
  try {
    return await open(tmp, 'wx', mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await unlink(tmp);
    return open(tmp, 'wx', mode);
  }
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

/**
 * Removes the temp files of `names` that runs killed mid-write left behind (their pid is in the
 * name; nothing else would ever remove them). Called by the run holding the lock, which alone
 * writes these files now.
 */
export async function removeStaleTemps(dir: string, names: readonly string[]): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const m = /^\.(.+)\.(\d+)\.\d+\.tmp$/.exec(entry);
    if (m && names.includes(m[1]!) && Number(m[2]) !== process.pid) await unlink(join(dir, entry)).catch(() => undefined);
  }
}
