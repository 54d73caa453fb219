import { rm, writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

export const LOCK_FILE = 'export_log.lock';
/**
 * A lock whose holder stopped refreshing it for this long is taken over. The holder refreshes
 * it every LOCK_UPDATE_MS, so a live agent never looks stale; a SIGKILLed one does after 30 s.
 */
export const LOCK_STALE_MS = 30_000;
const LOCK_UPDATE_MS = 5_000;

export interface Lock {
  release(): Promise<void>;
  /** Set when another process took the lock from us (we were frozen for > LOCK_STALE_MS). */
  compromised: () => boolean;
}

/** Returns undefined when another live instance holds the lock. */
export async function acquireLock(stateDir: string, onCompromised: (e: Error) => void): Promise<Lock | undefined> {
  const lockPath = join(stateDir, LOCK_FILE);
  let lost = false;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(stateDir, {
      lockfilePath: lockPath,
      realpath: false,
      stale: LOCK_STALE_MS,
      update: LOCK_UPDATE_MS,
      retries: 0,
      onCompromised: (e) => {
        lost = true;
        onCompromised(e);
      },
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') return undefined;
    throw e;
  }
  // proper-lockfile's lock is a directory; the pid inside lets `status` name the holder
  await writeFile(join(lockPath, 'pid'), `${process.pid}\n`).catch(() => undefined);
  return {
    compromised: () => lost,
    release: async () => {
      if (lost) return;
      await rm(join(lockPath, 'pid'), { force: true }).catch(() => undefined);
      await release().catch(() => undefined);
    },
  };
}

/** For `status`: the pid of a live holder, if any. */
export async function lockHolder(stateDir: string): Promise<number | undefined> {
  const lockPath = join(stateDir, LOCK_FILE);
  const held = await lockfile.check(stateDir, { lockfilePath: lockPath, realpath: false, stale: LOCK_STALE_MS }).catch(() => false);
  if (!held) return undefined;
  const pid = Number.parseInt(await readFile(join(lockPath, 'pid'), 'utf8').catch(() => ''), 10);
  return Number.isFinite(pid) ? pid : -1;
}

export async function clearLock(stateDir: string): Promise<void> {
  await rm(join(stateDir, LOCK_FILE), { recursive: true, force: true });
}
