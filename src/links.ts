import { lstatSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

/*
 * Files the agent writes or reads by name (the FILE output, its own log, what `bundle` copies)
 * often sit in directories its service user owns, while some runs are root's (a `sudo` backfill,
 * `check`, `bundle`, an admin's test). Whoever runs as the service user could put a symbolic link
 * there, or turn a directory on the path into one, and root's run would then append to, create or
 * copy any file the link names (/etc/nologin locks every user out; /etc/shadow in a bundle). So a
 * link anywhere on the path is followed only when this user or root made it, as Linux's
 * fs.protected_symlinks does for links in shared directories (off on some hosts); an
 * administrator's own link keeps working. What is checked is the path as it is now: a link
 * swapped in between the check and the open is not caught, except at the last component, which
 * callers open with O_NOFOLLOW.
 */

const MAX_HOPS = 40; // as Linux's own limit on links in one lookup

const euid = () => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/**
 * `path` with every symbolic link on it resolved, or why one must not be followed. Components
 * that do not exist yet are kept as they are (a file or directories the caller creates).
 */
export function trustedPath(path: string): { path: string; why?: undefined } | { why: string } {
  const me = euid();
  let rest = resolve(path).split('/').filter(Boolean);
  let done = '/'; // resolved so far: no links in it
  for (let hops = 0; rest.length > 0;) {
    const next = join(done, rest.shift()!);
    let st;
    try {
      st = lstatSync(next);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { path: join(next, ...rest) };
      return { why: `cannot look at ${next} (${code ?? String(e)})` };
    }
    if (!st.isSymbolicLink()) {
      done = next;
      continue;
    }
    if (st.uid !== 0 && st.uid !== me) return { why: `${next} is a symbolic link owned by uid ${st.uid}, neither this user nor root: not followed` };
    if (++hops > MAX_HOPS) return { why: `more than ${MAX_HOPS} symbolic links on the path: not followed` };
    let target: string;
    try {
      target = readlinkSync(next, 'utf8');
    } catch (e) {
      return { why: `cannot read the link ${next} (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
    rest = [...target.split('/').filter(Boolean), ...rest];
    if (target.startsWith('/')) done = '/';
  }
  return { path: done };
}
