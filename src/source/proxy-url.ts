import { UsageError } from '../errors.js';
import { redactUserinfo } from '../redact.js';

const SPECIALS = 'write a % / ? # or @ in its user or password as %25 %2F %3F %23 %40';

/**
 * `--proxy host:port` or a URL → URL (kept apart from http.ts so flag checks do not load undici).
 * `flag` names where the value came from (--proxy, HTTPS_PROXY...) in errors, which never show
 * its password.
 */
export function proxyUrl(proxy: string, flag = '--proxy'): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${flag} ${redactUserinfo(proxy)}: not host:port or a URL (${SPECIALS})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${flag}: unsupported scheme ${url.protocol} (use http:// or https://)`);
  // a raw # ? or / in a password would make the rest a fragment, query or path (and the host wrong)
  if (url.pathname !== '/' || url.search || url.hash) throw new UsageError(`${flag} ${redactUserinfo(proxy)}: a proxy is host:port or http://[user:password@]host:port, nothing after the port (${SPECIALS})`);
  // (the URL parser drops a scheme's default port, :80: the text says whether one was given)
  if (!url.port && !/^[a-z]+:\/\//i.test(proxy) && !/:\d+\/?$/.test(proxy)) throw new UsageError(`${flag} ${redactUserinfo(proxy)}: missing port (host:port)`);
  for (const part of [url.username, url.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      throw new UsageError(`${flag} ${redactUserinfo(proxy)}: a % in its user or password is not followed by two hex digits (${SPECIALS})`);
    }
  }
  return url;
}
