import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { isUtf8 } from 'node:buffer';

/*
 * Files the agent writes or reads by name (the FILE output, its own log, what `bundle` copies)
 * often sit in directories its service user owns, while some runs are root's (a `sudo` backfill,
 * `check`, `bundle`, an admin's test). Whoever runs as the service user could put a symbolic link
 * there, or turn a directory on the path into one, and root's run would then append to, create or
 * copy any file the link names (/etc/nologin locks every user out; /etc/shadow in a bundle). So a
 * link anywhere on the path is followed only when this user or root made it, as Linux's
 * fs.protected_symlinks does for links in shared directories (off on some hosts); an
 * administrator's own link keeps working. What is checked is the path as it is now: a link
 * swapped in between the check and the open is not caught, except at the last component where
 * the caller opens it with O_NOFOLLOW (the FILE output, bundle; rotating-file-stream opens the
 * agent's log by name).
 */

const MAX_HOPS = 40; // as Linux's own limit on links in one lookup

const euid = () => (typeof process.geteuid === 'function' ? process.geteuid() : 0);

/**
 * `path` with every symbolic link on it resolved, or why one must not be followed. Components
 * that do not exist yet are kept as they are (a file or directories the caller creates). `..` is
 * taken as the kernel takes it, after the link before it is followed (`current/../x` with
 * `current` a link is the target's parent's `x`), not dropped with that link beforehand.
 */
export function trustedPath(path: string): { path: string; why?: undefined } | { why: string } {
  const me = euid();
  let rest = (isAbsolute(path) ? path : `${process.cwd()}/${path}`).split('/');
  let done = '/'; // resolved so far: no links in it
  for (let hops = 0; rest.length > 0;) {
    const name = rest.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      done = dirname(done);
      continue;
    }
    const next = join(done, name);
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
    let target: Buffer;
    try {
      target = readlinkSync(next, 'buffer');
    } catch (e) {
      return { why: `cannot read the link ${next} (${(e as NodeJS.ErrnoException).code ?? String(e)})` };
    }
    // paths are strings here (argv, the config): a name that is not UTF-8 could not be written back
    if (!isUtf8(target)) return { why: `${next} is a symbolic link to a name that is not UTF-8: give the path without it` };
    const to = target.toString('utf8');
    rest = [...to.split('/'), ...rest];
    if (to.startsWith('/')) done = '/';
  }
  return { path: done };
}

/** trustedPath's path, or an error (code ELINK) saying why it must not be used. */
export function trustedPathOrThrow(path: string): string {
  const t = trustedPath(path);
  if (t.why !== undefined) throw Object.assign(new Error(t.why), { code: 'ELINK' });
  return t.path;
}
