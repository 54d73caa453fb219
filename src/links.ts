import { lstatSync, type Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';

/*
 * Files the agent writes by name (the FILE output, its own log) often sit in directories its
 * service user owns, while some runs are root's (a `sudo` backfill, `check`, an admin's test).
 * Whoever runs as the service user could put a symbolic link there, and root's run would then
 * append to, or create, any file the link names (/etc/nologin locks every user out). So a link is
 * followed only when this user or root made it, as Linux's fs.protected_symlinks does for links
 * in shared directories (off on some hosts); an administrator's own link keeps working.
 */

const euid = () => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/** Why the entry `st` (an lstat) must not be followed, or undefined when it may be. */
export function untrustedLink(st: Stats | undefined): string | undefined {
  if (!st?.isSymbolicLink() || st.uid === 0 || st.uid === euid()) return undefined;
  return `a symbolic link owned by uid ${st.uid}, neither this user nor root: not followed`;
}

export async function linkProblem(path: string): Promise<{ why?: string; isLink: boolean }> {
  const st = await lstat(path).catch(() => undefined);
  return { why: untrustedLink(st), isLink: st?.isSymbolicLink() ?? false };
}

export function linkProblemSync(path: string): string | undefined {
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch {
    return undefined;
  }
  return untrustedLink(st);
}
