import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/*
 * The parts of undici the agent uses, loaded without undici's index. The index also loads its
 * fetch/WebSocket/cookies code, which touches globalThis.Headers and so loads Node's own bundled
 * undici as well. Measured on this project's machine: `require('undici')` 0.15 s CPU and
 * +20 MB RSS over bare Node; these modules 0.07 s and +10 MB. package-lock.json pins undici, and
 * test/e2e covers every path through these modules (direct, proxy, env proxy, TLS).
 */
const require = createRequire(import.meta.url);
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// what undici's index does: the request/stream/... methods live on the Dispatcher prototype
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js') as object);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
// the proxy dispatchers (and their SOCKS code) are loaded only by a run that uses a proxy
export const proxyAgent = () => require('undici/lib/dispatcher/proxy-agent.js') as typeof Undici.ProxyAgent;
export const envHttpProxyAgent = () => require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent;
export type { Dispatcher } from 'undici';

/** undici's `request(url, opts)`, on a given dispatcher (undici's index wraps it the same way). */
export function request(url: string, opts: { method: 'GET'; headers: Record<string, string>; dispatcher: Undici.Dispatcher; signal?: AbortSignal }): Promise<Undici.Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({ ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
