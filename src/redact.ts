/**
 * A proxy or URL value with its user:password@ part masked. Up to the *last* @:
 * a password may hold an @ of its own (`http://agent:p@ss@proxy:3128`), and `--proxy` accepts
 * `user:password@host:port` without a scheme too.
 */
export function redactUserinfo(v: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(v)?.[0] ?? '';
  const rest = v.slice(scheme.length);
  // up to the last @ of all: a password may hold a raw / ? or # too (a proxy value has no path,
  // query or fragment, so an @ after the host is a password's), and masking more is safe
  const at = rest.lastIndexOf('@');
  return at < 0 ? v : `${scheme}***${rest.slice(at)}`;
}

/** The password of a proxy URL or host:port value (as written and decoded), for the log's mask. */
export function urlPasswords(v: string | undefined): string[] {
  if (!v) return [];
  try {
    const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? v : `http://${v}`);
    if (!u.password) return [];
    try {
      return [u.password, decodeURIComponent(u.password)];
    } catch {
      return [u.password]; // a raw % that is not %XX: the URL is refused, its password still masked
    }
  } catch {
    return [];
  }
}

