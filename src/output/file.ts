import { constants } from 'node:fs';
import { mkdir, open, rename, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { trustedPathOrThrow } from '../links.js';
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
 * Opens the file to append, creating it 0640, with O_NOFOLLOW: `path` is already resolved
 * (links.ts), so a link put there since fails the open instead of being followed.
 */
function openAppend(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
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
  let path = o.path; // o.path with its links resolved at open (links.ts): writes, renames and checks use it
  let reopenError: unknown; // PATH could not be opened again after an outside rename
  let size = 0;
  let tailChecked = false;
  const rotating = o.maxBytes > 0 && o.backupCount > 0;
  // Two apps share the output: a confirm (fsync, then the check that PATH is still this file) must
  // not run while the other app's write is half-way (its rotation swaps the handle; its bytes are
  // not yet counted), so writes and confirms take turns.
  const exclusive = turns();
  const fail = (e: unknown, delivered: number): OutputError => {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ELINK' ? (e as Error).message : code === 'ELOOP' ? 'it became a symbolic link while being opened: not followed' : code === 'ENOSPC' ? 'disk full' : code === 'EROFS' ? 'read-only file system' : code === 'EACCES' ? 'permission denied' : code === 'EFBIG' ? 'file too large' : code ?? String(e);
    return new OutputError(`output file ${o.path}: cannot write (${why})`, delivered, code);
  };

  async function reopen(): Promise<void> {
    fh = await openAppend(path);
    size = (await fh.stat()).size;
  }

  const goneError = (gone: string) =>
    // not checkpointed: the next run writes these lines again, to the file then at PATH
    new OutputError(`output file ${o.path} ${gone} during the run (log rotation? use logrotate's create, not copytruncate, and delaycompress); stopped: the next run writes the unconfirmed logs again`, 0, 'EGONE');

  /**
   * PATH was renamed (logrotate's create): the lines so far are in the renamed file, fsynced, and
   * count as delivered; the next ones go to the file now at PATH. If it cannot be opened, the next
   * write fails with why, and the lines already in the renamed file still count.
   */
  async function followRename(): Promise<void> {
    const was = await fh!.stat().catch(() => undefined);
    await fh!.close().catch(() => undefined);
    fh = undefined;
    tailChecked = false;
    try {
      // logrotate's create made the new PATH as configured; one this run creates (nocreate, a
      // plain mv) gets the old file's owner, group and mode, as for a rotation of its own
      const created = !(await stat(path).catch(() => undefined));
      await reopen();
      if (created && was) await keepAccess(was);
    } catch (e) {
      reopenError = e;
      return;
    }
    warn(`output file ${o.path} was renamed during the run (log rotation); the lines before are in the renamed file, the next ones go to ${o.path}`);
  }

  async function rotate(): Promise<void> {
    await fh!.sync(); // what went into PATH is on disk before PATH becomes PATH.1
    // renamed by someone else meanwhile, PATH is now another file: renaming it over PATH.1 would
    // destroy the lines in PATH.1, which were ours
    const gone = await stillOurs();
    if (gone === 'renamed') {
      await followRename();
      if (!fh) throw reopenError;
      return;
    }
    if (gone) throw goneError(gone);
    const was = await fh!.stat();
    await fh!.close();
    fh = undefined;
    for (let i = o.backupCount - 1; i >= 1; i--) {
      await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    await rename(path, `${path}.1`);
    await reopen();
    await keepAccess(was);
    // the renames and the new PATH are durable before a page in it is confirmed (a power loss
    // must not leave the marker past lines whose file has no directory entry)
    await syncDirectory(dirname(path));
  }

  /**
   * The new PATH gets the owner, group and mode the old one had, as logrotate's `create` does: an
   * administrator who gave the file a forwarder's group (chgrp splunk) or mode must not see the
   * forwarder locked out at the first rotation, and a rotation by a root run (a backfill by hand)
   * must not leave a root-owned PATH the service user's runs cannot append to. Best effort: only
   * root may give a file away; another user keeps a group only if it is one of its own. In a
   * setgid directory the new file keeps the directory's group (README: the forwarder's group).
   */
  async function keepAccess(was: { mode: number; uid: number; gid: number }): Promise<void> {
    const now = await fh!.stat();
    if ((now.mode & 0o7777) !== (was.mode & 0o7777)) await fh!.chmod(was.mode & 0o7777).catch(() => undefined);
    // a setgid directory gives new files its group: the administrator's choice, kept
    const gid = ((await stat(dirname(path)).catch(() => undefined))?.mode ?? 0) & 0o2000 ? now.gid : was.gid;
    if (now.gid !== gid || now.uid !== was.uid) {
      await fh!.chown(was.uid, gid).catch(() => fh!.chown(now.uid, gid)).catch(() => undefined);
    }
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
    const rh = await open(path, 'r').catch(() => undefined); // unreadable: nothing to learn
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
   * Whether the lines written are still in a file, as this run left it. logrotate may rename PATH
   * (`create`: PATH.1, and a new PATH), delete it, or copy and truncate it (copytruncate) while a
   * run goes on. Renamed, the file still holds every line, fsynced, under the name a forwarder
   * monitoring PATH* reads next (README: delaycompress, so it is not compressed and deleted before
   * the forwarder is done): 'renamed', and the next page goes to the file now at PATH. Deleted or
   * truncated, the lines since are in no file: not delivered.
   */
  async function stillOurs(): Promise<'renamed' | 'was removed' | 'was truncated' | undefined> {
    const [mine, there] = await Promise.all([fh!.stat(), stat(path).catch(() => undefined)]);
    if (mine.nlink === 0) return 'was removed';
    if (mine.size < size) return 'was truncated';
    if (!there || there.ino !== mine.ino || there.dev !== mine.dev) return 'renamed';
    return undefined;
  }

  return {
    name: 'FILE',
    async open() {
      try {
        path = trustedPathOrThrow(o.path);
        await mkdir(dirname(path), { recursive: true });
        const st = await stat(path).catch(() => undefined);
        if (st && !st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
        await reopen();
        if (!st) await syncDirectory(dirname(path)); // a new file's entry, as for a rotation
      } catch (e) {
        throw fail(e, 0);
      }
    },
    write: (lines) => exclusive(async () => {
      if (!fh) throw fail(reopenError ?? Object.assign(new Error('not open'), { code: 'not open' }), 0);
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
        // a file removed or cut meanwhile: the lines since the last confirm are in no file, which
        // the confirm that deliver.ts runs before counting them finds again
        throw e instanceof OutputError ? new OutputError(e.message, delivered, e.code) : fail(e, delivered);
      }
    }),
    // one fsync per page (deliver.ts calls confirm before the marker moves), not per paced chunk
    confirm: () => exclusive(async () => {
      // none open: PATH was renamed and could not be opened again; what was written is in the
      // renamed file (followRename), and the next write says why
      if (!fh) return;
      let gone: string | undefined;
      try {
        await fh.sync();
        gone = await stillOurs();
      } catch (e) {
        throw fail(e, 0);
      }
      if (gone === 'renamed') await followRename();
      else if (gone) throw goneError(gone);
    }),
    async close() {
      await fh?.close().catch(() => undefined);
      fh = undefined;
    },
  };
}
