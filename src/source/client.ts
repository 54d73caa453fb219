import { request, type Dispatcher } from './undici.js';
import { ApiError, InterruptedError, tlsAdvice } from '../errors.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { bodyText, parseBody, parsedLogs, splitPage, type PageLogs } from './page-json.js';
import { BodyTooLarge, readBody } from './body.js';

export interface Page {
  meta: { limit?: number; total_count?: number; next?: string | null };
  /** Parsed when the page is taken; whoever takes it calls `logs.release()`. */
  logs: PageLogs;
  /** The API's clock when it answered (its Date header, epoch ms), if it sent one. */
  serverTime?: number;
}

/**
 * An HTTP date (Date, Retry-After) as epoch ms. All three forms RFC 9110 makes recipients read are
 * UTC; asctime's (`Sun Nov  6 08:49:37 1994`) names no zone, which Date.parse would take as this
 * host's local time.
 */
export function httpDate(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const ms = Date.parse(/\b(GMT|UTC|UT)\b|[+-]\d{4}\s*$/.test(v) ? v : `${v} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

export interface ClientContext {
  config: Config;
  dispatcher: Dispatcher;
  retries: number;          // attempts after the first
  signal: AbortSignal;      // SIGTERM/SIGINT or --max_runtime
  log: Logger;
  onRetry?: (why: string) => void;
  /** Backoff base; tests shorten it. */
  backoffMs?: number;
  /**
   * --request_timeout. It bounds the wait for the headers and between two chunks of the body
   * (the dispatcher's timeouts); a whole request must also end within DEADLINE_FACTOR times it,
   * or a body that trickles a byte at a time would hold the run until --max_runtime.
   */
  requestTimeoutMs?: number;
}

const MAX_RETRY_AFTER_S = 600;
const DEADLINE_FACTOR = 4;
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * The largest body read. A page of 1,000 logs is ~0.6 MB; anything near this is not a page the
 * agent can format within its heap (128 MB), and a body that never ends would grow the process
 * (buffers live outside the heap) until the kernel killed it, with no line said.
 */
export const MAX_BODY_BYTES = 32 << 20;

/** Path + query relative to api_server, joined without doubling slashes. */
export function apiUrl(config: Config, pathAndQuery: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(pathAndQuery)) {
    const u = new URL(pathAndQuery);
    // never send the key to another host because a page said so
    if (u.origin !== new URL(config.apiServer).origin) throw new ApiError(`API returned a next page on another host (${u.host}); refusing to follow it`);
    return u.href;
  }
  return config.apiServer + pathAndQuery.replace(/^\/+/, '');
}

function authHeader(config: Config): string {
  return `Basic ${Buffer.from(`${config.keyId}:${config.keySecret}`).toString('base64')}`;
}

/**
 * The gist of an error body, for a one-line message. A server or a proxy may echo the request
 * (its Authorization header, the key): the key is cut out here, since the message also goes to
 * last_job.status, `status` and the heartbeat, which the log's own mask does not cover.
 */
function bodySnippet(text: string, config: Config): string {
  let msg = text;
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (j && typeof j.error === 'string') msg = j.error;
  } catch {
    msg = /<title>([^<]*)<\/title>/i.exec(text)?.[1] ?? text;
  }
  const basic = Buffer.from(`${config.keyId}:${config.keySecret}`).toString('base64');
  for (const secret of [config.keySecret, basic]) if (secret.length >= 3) msg = msg.split(secret).join('***');
  return msg.replace(/\bBasic\s+[A-Za-z0-9+/=]{8,}/gi, 'Basic ***').replace(/\s+/g, ' ').trim().slice(0, 200);
}

function classify(status: number, text: string, ctx: ClientContext, what: string, location?: string): ApiError {
  const c = ctx.config;
  // never followed (the key would go with it); the usual case is http:// moved to https://
  if (status >= 300 && status < 400) {
    let to = '';
    try {
      to = location ? new URL(location, c.apiServer).origin : '';
    } catch { /* no usable Location */ }
    return new ApiError(`API answered ${status} for ${what}${to ? `, a redirect to ${to}` : ''}: not followed; ${to ? `if that is the API, set api_server to ${to}/` : 'check api_server'} in ${c.path}`, status);
  }
  switch (status) {
    case 400: return new ApiError(`API rejected the request for ${what} (400 Bad Request): ${bodySnippet(text, c) || 'no detail'}`, 400);
    case 401: return new ApiError(`API refused the key (401 Unauthorized): check key_id/key_secret in ${c.path}`, 401);
    case 403: return new ApiError(`API forbids ${what} for tenant "${c.tenant}" (403 Forbidden): the key's access profile does not allow it`, 403);
    case 404: return new ApiError(`API has no such tenant or path (404 Not Found): check tenant "${c.tenant}" and api_server ${c.apiServer} in ${c.path}`, 404);
    case 407: return networkError(new Error('Proxy Authentication Required'), what);
  }
  if (status === 429 || status >= 500) return new ApiError(`API answered ${status} for ${what}: ${bodySnippet(text, c) || 'no body'}`, status, true);
  return new ApiError(`API answered ${status} for ${what}: ${bodySnippet(text, c) || 'no body'}`, status);
}

function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs, MAX_RETRY_AFTER_S) * 1000;
  const date = httpDate(v);
  return date === undefined ? undefined : Math.min(Math.max(0, date - Date.now()), MAX_RETRY_AFTER_S * 1000);
}

function networkError(e: unknown, what: string): ApiError {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  // undici reports a refused CONNECT as "Proxy response (NNN) !== 200 when HTTP Tunneling"
  const tunnel = /Proxy response \((\d{3})\)/.exec(err.message ?? '')?.[1];
  if (tunnel === '407' || tunnel === '401' || /Proxy Authentication Required/.test(err.message ?? '')) {
    return new ApiError(`proxy refused the credentials (${tunnel ?? 407} Proxy Authentication Required): check -u/-p or the proxy URL`, 407);
  }
  if (tunnel) return new ApiError(`proxy refused to open a tunnel to the API (HTTP ${tunnel}); check --proxy and the proxy's rules`, Number(tunnel), tunnel.startsWith('5'));
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ApiError(`request for ${what} timed out (${code})`, undefined, true);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code + (err.message ?? ''))) {
    return new ApiError(`TLS verification failed for the API (${code || err.message}): ${tlsAdvice(code, '--ca_file')}`, undefined, false);
  }
  return new ApiError(`network error for ${what}: ${code || err.message || String(e)}`, undefined, true);
}

/** One GET of a logs page, with retries (backoff + jitter; Retry-After on 429 and 503). */
export async function fetchPage(ctx: ClientContext, pathAndQuery: string, what: string): Promise<Page> {
  const url = apiUrl(ctx.config, pathAndQuery);
  const headers = {
    authorization: authHeader(ctx.config),
    'x-elastica-dbname-resolved': 'True',
    accept: 'application/json',
  };
  const base = ctx.backoffMs ?? 1000;
  for (let attempt = 0; ; attempt++) {
    if (ctx.signal.aborted) throw new InterruptedError('stopped before fetching');
    let err: ApiError;
    let waitMs: number | undefined;
    // at most Node's longest timer (~24.8 days): a larger one fires at once (--request_timeout may be that large)
    const deadlineMs = ctx.requestTimeoutMs ? Math.min(DEADLINE_FACTOR * ctx.requestTimeoutMs, MAX_TIMER_MS) : undefined;
    const deadline = deadlineMs ? AbortSignal.timeout(deadlineMs) : undefined;
    try {
      const signal = deadline ? AbortSignal.any([ctx.signal, deadline]) : ctx.signal;
      const res = await request(url, { method: 'GET', headers, dispatcher: ctx.dispatcher, signal });
      const { body, release } = await readBody(res.body, Number(res.headers['content-length']) || 0, MAX_BODY_BYTES);
      let page: Page | undefined;
      try {
        if (res.statusCode === 200) {
          page = parsePage(body, release, what);
          if (page) {
            page.serverTime = httpDate(res.headers.date);
            return page;
          }
          err = new ApiError(`API answered 200 for ${what} with a body that is not a logs page (${body.length === 0 ? 'empty' : bodySnippet(bodyText(body), ctx.config).slice(0, 60)})`, 200, true);
        } else {
          const location = res.headers.location;
          err = classify(res.statusCode, bodyText(body), ctx, what, Array.isArray(location) ? location[0] : location);
          err.serverTime = httpDate(res.headers.date);
          // RFC 9110 gives Retry-After to 503 too (maintenance), as the old agent's urllib3 read it
          if (res.statusCode === 429 || res.statusCode === 503) waitMs = retryAfterMs(res.headers['retry-after']);
        }
      } finally {
        // a page keeps the body until it is taken (then logs.release())
        if (!page) release();
      }
    } catch (e) {
      if (ctx.signal.aborted) throw new InterruptedError('stopped while fetching');
      if (e instanceof ApiError) throw e;
      if (e instanceof BodyTooLarge) {
        throw new ApiError(`API answered more than ${MAX_BODY_BYTES >> 20} MB for ${what}; refusing it (a page of 1,000 logs is ~0.6 MB: if your logs are that large, lower --page_size)`, 200);
      }
      err = deadline?.aborted
        ? new ApiError(`request for ${what} did not complete within ${(deadlineMs! / 1000).toFixed(0)} s (${DEADLINE_FACTOR} × --request_timeout)`, undefined, true)
        : networkError(e, what);
    }
    if (!err.retryable || attempt >= ctx.retries) {
      if (err.retryable) throw Object.assign(new ApiError(`${err.message}; gave up after ${attempt + 1} attempts`, err.status), { serverTime: err.serverTime });
      throw err;
    }
    // full jitter between half and all of the exponential step, capped at 30 s
    const step = Math.min(30_000, base * 2 ** attempt);
    const delay = waitMs ?? step / 2 + Math.random() * (step / 2);
    ctx.log.warn(`${err.message}; retry ${attempt + 1}/${ctx.retries} in ${(delay / 1000).toFixed(1)} s`);
    ctx.onRetry?.(err.message);
    await sleep(delay, ctx.signal, 'waiting to retry');
  }
}

/** The page in `body`, or undefined if it is not a logs page. A page owns `body` until it is taken. */
function parsePage(body: Buffer, release: () => void, what: string): Page | undefined {
  const split = splitPage(body, release);
  let doc: unknown;
  if (split) doc = split.envelope;
  else {
    try {
      doc = parseBody(body);
    } catch {
      return undefined;
    }
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { logs?: unknown }).logs)) return undefined;
  const page = doc as Page;
  page.logs = split ? split.logs : parsedLogs((doc as { logs: unknown[] }).logs, release);
  if (!page.meta || typeof page.meta !== 'object') page.meta = {};
  // "" is no path: read as the contract's null (no more logs now), not as the api_server root
  if (page.meta.next === '') page.meta.next = null;
  const next = page.meta.next;
  if (next !== undefined && next !== null && typeof next !== 'string') {
    throw new ApiError(`API page for ${what} has a meta.next that is not a string`, 200);
  }
  return page;
}
