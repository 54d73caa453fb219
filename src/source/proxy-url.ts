import { UsageError } from '../errors.js';
import { redactUserinfo } from '../redact.js';

/** `--proxy host:port` or a URL → URL (kept apart from http.ts so flag checks do not load undici). */
export function proxyUrl(proxy: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--proxy ${redactUserinfo(proxy)}: not host:port or a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--proxy: unsupported scheme ${url.protocol} (use http:// or https://)`);
  if (!url.port && !/^[a-z]+:\/\//i.test(proxy)) throw new UsageError(`--proxy ${redactUserinfo(proxy)}: missing port (host:port)`);
  return url;
}
