/**
 * A proxy or URL value with its user:password@ part masked. Up to the *last* @ before the host:
 * a password may hold an @ of its own (`http://agent:p@ss@proxy:3128`), and `--proxy` accepts
 * `user:password@host:port` without a scheme too.
 */
export function redactUserinfo(v: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(v)?.[0] ?? '';
  const rest = v.slice(scheme.length);
  // the authority ends at the first / ? or # after the last @ (a password's own / is not a path)
  const at = rest.lastIndexOf('@', rest.search(/[?#]/) >= 0 ? rest.search(/[?#]/) : rest.length);
  return at < 0 ? v : `${scheme}***${rest.slice(at)}`;
}

/** The password of a proxy URL or host:port value (as written and decoded), for the log's mask. */
export function urlPasswords(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`);
    return u.password ? [u.password, decodeURIComponent(u.password)] : [];
  } catch {
    return [];
  }
}
