import type * as Undici from 'undici';

/*
 * The parts of undici the agent uses, loaded without undici's index. The index also loads its
 * fetch/WebSocket/cookies code, which touches globalThis.Headers and so loads Node's own bundled
 * undici as well. Measured on this project's machine: `require('undici')` 0.15 s CPU and
 * +20 MB RSS over bare Node; these modules 0.07 s and +10 MB. package-lock.json pins undici, and
 * test/e2e covers every path through these modules (direct, proxy, env proxy, TLS).
 *
 * These are plain `require` calls because esbuild bundles them into dist/siem-agent.cjs (see
 * scripts/build.mjs, which also keeps undici's HTTP/2 module unloaded until it is called); a
 * module only reached from a function body (the proxy dispatchers) is evaluated on first call.
 */
const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// what undici's index does, for the one method the agent calls (the index loads all five: 5 ms more)
Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });
// a proxy opens its tunnel with Dispatcher.connect
const withConnect = <T>(load: () => T): T => {
  Object.assign(Dispatcher.prototype, { connect: require('undici/lib/api/api-connect.js') as unknown });
  return load();
};

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
// (Agent loads it too) a proxy's own connections are Pools made with the run's timeouts
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
// the proxy dispatchers (and their SOCKS code) are loaded only by a run that uses a proxy
export const proxyAgent = () => withConnect(() => require('undici/lib/dispatcher/proxy-agent.js') as typeof Undici.ProxyAgent);
export const envHttpProxyAgent = () => withConnect(() => require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent);
export type { Dispatcher } from 'undici';

/** undici's `request(url, opts)`, on a given dispatcher (undici's index wraps it the same way). */
export function request(url: string, opts: { method: 'GET'; headers: Record<string, string>; dispatcher: Undici.Dispatcher; signal?: AbortSignal }): Promise<Undici.Dispatcher.ResponseData> {
  const u = new URL(url);
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({ ...rest, origin: u.origin, path: `${u.pathname}${u.search}` });
}
