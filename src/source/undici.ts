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

/*
 * undici's Client loads its HTTP/2 code, and with it node:http2 and node:tls, before it knows
 * whether it will need them. The agent never offers HTTP/2 (undici's allowH2 is off), so a
 * stand-in takes that module's place and loads the real one only if it is ever called.
 * Measured: 9 ms less CPU on every run (45-49 ms instead of 55-58 ms to load undici).
 */
const h2 = require.resolve('undici/lib/dispatcher/client-h2.js');
type ConnectH2 = (...args: unknown[]) => unknown;
let realH2: ConnectH2 | undefined;
require.cache[h2] ??= {
  id: h2, filename: h2, loaded: true, children: [], paths: [],
  exports: (...args: unknown[]) => {
    if (!realH2) {
      delete require.cache[h2];
      realH2 = require(h2) as ConnectH2;
    }
    return realH2(...args);
  },
} as unknown as NodeJS.Module;

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// what undici's index does, for the one method the agent calls (the index loads all five: 5 ms more)
Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request.js') as unknown });
// a proxy opens its tunnel with Dispatcher.connect
const withConnect = <T>(load: () => T): T => {
  Object.assign(Dispatcher.prototype, { connect: require('undici/lib/api/api-connect.js') as unknown });
  return load();
};

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
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
