import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';

export const LOCK_FILE = 'export_log.lock';
/**
 * A lock whose holder stopped refreshing it for this long is taken over. The holder refreshes
 * it every LOCK_UPDATE_MS, so a live agent never looks stale; a SIGKILLed one does after 30 s.
 */
export const LOCK_STALE_MS = 30_000;
export const LOCK_UPDATE_MS = 5_000;

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
  // No pid file inside the lock directory: writing there changes the directory's mtime, which
  // proper-lockfile reads as "someone else touched my lock" (compromised). last_job.status has the pid.
  return {
    compromised: () => lost,
    release: async () => {
      if (lost) return;
      await release().catch(() => undefined);
    },
  };
}

/** Whether another process with this pid is alive on this host. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return pid !== process.pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** For `status`: whether a live run holds the lock (its pid is in last_job.status). */
export async function lockHeld(stateDir: string): Promise<boolean> {
  return lockfile.check(stateDir, { lockfilePath: join(stateDir, LOCK_FILE), realpath: false, stale: LOCK_STALE_MS }).catch(() => false);
}

export async function clearLock(stateDir: string): Promise<void> {
  await rm(join(stateDir, LOCK_FILE), { recursive: true, force: true });
}

/** The lock's mtime (its holder refreshes it every LOCK_UPDATE_MS), undefined when there is none. */
export async function lockMtime(stateDir: string): Promise<number | undefined> {
  return stat(join(stateDir, LOCK_FILE)).then((s) => s.mtimeMs, () => undefined);
}

/**
 * Removes a dead holder's lock so that exactly one of the runs doing so at once gets to take it:
 * the lock is renamed away first (atomic), and only the run whose rename worked removes it. The
 * others find it gone and race for the new lock in acquireLock, which one wins.
 */
export async function removeDeadLock(stateDir: string): Promise<void> {
  const tomb = join(stateDir, `${LOCK_FILE}.dead.${process.pid}`);
  try {
    await rename(join(stateDir, LOCK_FILE), tomb);
  } catch {
    return; // gone already: another run took it over
  }
  await rm(tomb, { recursive: true, force: true });
}
