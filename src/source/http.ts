import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Agent, envHttpProxyAgent, Pool, proxyAgent, type Dispatcher } from './undici.js';
import { UsageError } from '../errors.js';
import { proxyUrl } from './proxy-url.js';

export interface HttpOptions {
  timeoutMs: number;
  proxy?: string;        // host:port or URL
  proxyUser?: string;
  proxyPassword?: string;
  caFile?: string;
  insecure?: boolean;
}

function extraCas(caFile: string | undefined): string[] | undefined {
  if (!caFile) return undefined;
  let pem: string;
  try {
    pem = readFileSync(caFile, 'utf8');
  } catch (e) {
    throw new UsageError(`--ca_file ${caFile}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca_file ${caFile}: no PEM certificate in it`);
  // TLS skips a certificate it cannot read: the run would fail later with a misleading "TLS
  // verification failed ... use --ca_file" (node:crypto is loaded only for --ca_file)
  try {
    const { X509Certificate } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [pem]) new X509Certificate(block);
  } catch {
    throw new UsageError(`--ca_file ${caFile}: a certificate in it cannot be read (damaged PEM)`);
  }
  // An explicit `ca` replaces Node's default trust, so keep the public roots and NODE_EXTRA_CA_CERTS too
  const extra = process.env.NODE_EXTRA_CA_CERTS ? [safeRead(process.env.NODE_EXTRA_CA_CERTS)] : [];
  // node:tls loaded here, not at the top: a run without --ca_file (and over plain http) never needs it
  const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return [...rootCertificates, ...extra.filter(Boolean), pem];
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** One keep-alive dispatcher for the whole run: direct, through --proxy, or through *_PROXY from the environment. */
export function makeDispatcher(o: HttpOptions): Dispatcher {
  const ca = extraCas(o.caFile);
  const tlsOpts = { ca, rejectUnauthorized: !o.insecure, timeout: o.timeoutMs };
  const common = { keepAliveTimeout: 30_000, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs, connect: tlsOpts };
  // The proxy's own connection (its CONNECT) gets the same timeouts: undici's default is 300 s, and
  // a proxy that accepts and never answers held a run until --max_runtime
  const viaProxy = {
    ...common, requestTls: tlsOpts, proxyTls: tlsOpts,
    clientFactory: (origin: URL, opts: object) => new Pool(origin, { ...opts, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs }),
  };
  if (o.proxy) {
    const url = proxyUrl(o.proxy);
    const user = o.proxyUser ?? (url.username ? decodeURIComponent(url.username) : undefined);
    const pass = o.proxyPassword ?? (url.password ? decodeURIComponent(url.password) : undefined);
    url.username = '';
    url.password = '';
    const ProxyAgent = proxyAgent();
    return new ProxyAgent({
      ...viaProxy,
      uri: url.href,
      token: user !== undefined ? basic(user, pass) : undefined,
    });
  }
  const env = process.env;
  const httpsProxy = envProxy('HTTPS_PROXY', o);
  const httpProxy = envProxy('HTTP_PROXY', o);
  if (httpsProxy || httpProxy) {
    const EnvHttpProxyAgent = envHttpProxyAgent();
    // the values as --proxy reads them (host:port without a scheme), -u/-p as a token as for
    // --proxy (undici sends a URL's credentials only when both parts are non-empty), NO_PROXY as undici does
    return new EnvHttpProxyAgent({
      ...viaProxy, httpProxy, httpsProxy: httpsProxy ?? httpProxy, noProxy: env.NO_PROXY ?? env.no_proxy,
      token: o.proxyUser !== undefined ? basic(o.proxyUser, o.proxyPassword) : undefined,
    } as ConstructorParameters<typeof EnvHttpProxyAgent>[0]);
  }
  return new Agent(common);
}

const basic = (user: string, pass: string | undefined) => `Basic ${Buffer.from(`${user}:${pass ?? ''}`).toString('base64')}`;

/** HTTPS_PROXY or HTTP_PROXY (either case) read like --proxy (-u/-p replace its credentials); undefined if unset. */
function envProxy(name: 'HTTPS_PROXY' | 'HTTP_PROXY', o: HttpOptions): string | undefined {
  const v = process.env[name] || process.env[name.toLowerCase()];
  if (!v) return undefined;
  const url = proxyUrl(v, name);
  if (o.proxyUser !== undefined) {
    url.username = '';
    url.password = '';
  }
  return url.href;
}
