import { accessSync, constants } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { proxyUrl } from './source/proxy-url.js';
import { UsageError } from './errors.js';
import { FACILITIES, isoDay, oneOf, positiveNumber, redactArgv, seconds, splitList, wholeNumber } from './flags.js';
import { SIEM_FORMAT } from './format/index.js';
import { headerer } from './output/framing.js';
import { APPS, SEVERITIES, type AppName } from './types.js';
import type { OutputSpec, RunOptions } from './options.js';

/**
 * An absolute path that keeps its `..`: `resolve()` drops `link/..` as text, where the kernel
 * goes up from the link's target (links.ts walks it as the kernel does).
 */
const absolute = (p: string): string => (isAbsolute(p) ? p : `${process.cwd()}/${p}`);

/** What commander hands us: strings as typed. */
export interface RawFlags {
  config: string; state_dir?: string; elastica_app?: string[]; severity?: string[]; app?: string[];
  object_type?: string[]; activity_type?: string[]; start_date?: string; max_logs?: string;
  c?: boolean; r?: boolean; d?: boolean; output: string; stream: string; filename?: string;
  max_bytes: string; backup_count: string; target?: string; socket_type: string; syslog_header: string;
  framing: string; facility: string; tls_ca?: string; tls_cert?: string; tls_key?: string;
  format?: string; siem?: string; max_message_size?: string; rate?: string; max_runtime: string; ingest_delay: string;
  request_timeout: string; reconnect_timeout: string; retries: string; page_size: string; proxy?: string; proxy_user?: string;
  proxy_password?: string; ca_file?: string; insecure?: boolean; log_file: string; customfile?: string;
  log_format: string; heartbeat?: boolean; dry_run?: boolean;
}

const ALL_LEVELS = [...new Set([...SEVERITIES.Investigate, ...SEVERITIES.Detect, 'all'])];
// under rsyslog's classic 200 per 5 s per process: rsyslog counts whole seconds, so a "5 s" window
// can last almost 6 s (measured: 35/s lost 12 of 1,000); 30/s sends at most 180 in 6 s
export const SYSLOG_RATE = 30;
export const UDP_RATE = 1000;
/** rsyslog's default maxMessageSize, measured on 8.2302: the whole message, its header included. */
export const SYSLOG_MAX_MESSAGE = 8096;

/**
 * The default --max_message_size for syslog outputs: what is left of SYSLOG_MAX_MESSAGE after this
 * host's header (a 64-character cloud host name takes ~120 bytes in RFC 5424), so that a stock
 * rsyslog takes every event whole rather than cutting it and storing the rest as an event of its own.
 */
function syslogEventRoom(output: OutputSpec): number {
  if (output.kind !== 'SYSLOG' && output.kind !== 'REMOTE') return 0;
  const kind = output.kind === 'SYSLOG' ? 'rfc3164-local' : output.header;
  return SYSLOG_MAX_MESSAGE - Buffer.byteLength(headerer(kind, output.facility)('', output.facility * 8 + 7), 'utf8');
}

function hostPort(flag: string, v: string, defPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v);
  if (!m) throw new UsageError(`${flag}: expected host:port, got "${v}"`);
  const port = m[2] === undefined ? defPort : wholeNumber(flag, m[2], 1, 65535)!;
  return { host: m[1]!, port };
}

function outputSpec(f: RawFlags): OutputSpec {
  const kind = oneOf('-o/--output', f.output, ['SYSLOG', 'REMOTE', 'STREAM', 'FILE'] as const, (s) => s.toUpperCase());
  const facility = FACILITIES[f.facility.toLowerCase()];
  if (facility === undefined) throw new UsageError(`--facility: unknown value "${f.facility}"; valid values: ${Object.keys(FACILITIES).join(', ')}`);
  switch (kind) {
    case 'FILE': {
      if (!f.filename) throw new UsageError('-o FILE needs -f/--filename PATH');
      return { kind, path: absolute(f.filename), maxBytes: wholeNumber('--max_bytes', f.max_bytes, 0)!, backupCount: wholeNumber('--backup_count', f.backup_count, 0, 999)! };
    }
    case 'STREAM':
      return { kind, stream: oneOf('-s/--stream', f.stream, ['STDOUT', 'STDERR'] as const, (s) => s.toUpperCase()) };
    case 'SYSLOG':
      return { kind, socketPath: f.target ?? '/dev/log', facility };
    case 'REMOTE': {
      const { host, port } = hostPort('-t/--target', f.target ?? 'localhost:514', 514);
      const socketType = oneOf('--socket_type', f.socket_type, ['UDP', 'TCP', 'TLS'] as const, (s) => s.toUpperCase());
      const header = oneOf('--syslog_header', f.syslog_header, ['rfc3164', 'rfc5424', 'none'] as const);
      const framing = oneOf('--framing', f.framing, ['lf', 'octet'] as const);
      if (socketType === 'UDP' && f.framing.toLowerCase() === 'octet') throw new UsageError('--framing octet applies to TCP and TLS only');
      return { kind, host, port, socketType, header, framing, facility, tlsCa: f.tls_ca, tlsCert: f.tls_cert, tlsKey: f.tls_key };
    }
  }
}

export function buildRunOptions(f: RawFlags, argv: string[]): RunOptions {
  const configPath = resolve(f.config);
  const apps: AppName[] = f.elastica_app
    ? [...new Set(splitList(f.elastica_app)!.map((a) => oneOf('--elastica_app', a, APPS)))]
    : [...APPS];
  if (apps.length === 0) throw new UsageError(`--elastica_app: no app given; valid values: ${APPS.join(', ')}`);
  const severity = f.severity ? [...new Set(splitList(f.severity)!.map((s) => oneOf('--severity', s, ALL_LEVELS)))] : undefined;
  if (severity && severity.length === 0) throw new UsageError(`--severity: no level given; valid values: ${ALL_LEVELS.join(', ')}`);
  const output = outputSpec(f);
  let format: RunOptions['format'] = 'cef';
  if (f.siem) format = SIEM_FORMAT[oneOf('--siem', f.siem, ['arcsight', 'qradar', 'splunk'] as const)] as RunOptions['format'];
  if (f.format) {
    const chosen = oneOf('--format', f.format, ['cef', 'leef', 'json'] as const);
    if (f.siem && chosen !== format) throw new UsageError(`--format ${chosen} contradicts --siem ${f.siem} (which means ${format})`);
    format = chosen;
  }
  // a dry run prints to stdout, whatever -o says: the daemon's pace does not apply
  const defaultRate = f.dry_run === true ? undefined : output.kind === 'SYSLOG' ? SYSLOG_RATE : output.kind === 'REMOTE' && output.socketType === 'UDP' ? UDP_RATE : undefined;
  const rate = positiveNumber('--rate', f.rate) ?? defaultRate;
  const maxMessageSize = wholeNumber('--max_message_size', f.max_message_size, 0) ?? syslogEventRoom(output);
  if (maxMessageSize > 0 && maxMessageSize < 512) throw new UsageError(`--max_message_size: must be 0 (no limit) or at least 512, got ${maxMessageSize}`);
  if (f.proxy_password !== undefined && f.proxy_user === undefined) throw new UsageError('-p/--proxy_password needs -u/--proxy_user');
  // checked here, before any output is opened or anything fetched
  if (f.proxy !== undefined) proxyUrl(f.proxy);
  const env = process.env;
  // cron does not pass on a login shell's HTTPS_PROXY: credentials for no proxy would be dropped silently
  if (f.proxy_user !== undefined && f.proxy === undefined && !(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy)) {
    throw new UsageError('-u/--proxy_user: no proxy to use it with (give --proxy, or HTTPS_PROXY/HTTP_PROXY in the environment; cron does not pass on a login shell\'s)');
  }
  if (f.ca_file !== undefined) {
    try {
      accessSync(f.ca_file, constants.R_OK);
    } catch (e) {
      throw new UsageError(`--ca_file ${f.ca_file}: cannot read (${(e as NodeJS.ErrnoException).code})`);
    }
  }
  return {
    configPath,
    stateDir: resolve(f.state_dir ?? dirname(configPath)),
    apps,
    severity,
    service: splitList(f.app),
    objectType: splitList(f.object_type),
    activityType: splitList(f.activity_type),
    startDate: isoDay('--start_date', f.start_date),
    maxLogs: wholeNumber('--max_logs', f.max_logs, 1),
    clearStatus: f.c === true,
    reset: f.r === true,
    debug: f.d === true,
    dryRun: f.dry_run === true,
    heartbeat: f.heartbeat === true,
    output,
    format,
    maxMessageSize,
    rate,
    maxRuntimeS: seconds('--max_runtime', f.max_runtime)!,
    ingestDelayS: wholeNumber('--ingest_delay', f.ingest_delay, 0, 86_400)!,
    reconnectS: seconds('--reconnect_timeout', f.reconnect_timeout)!,
    retries: wholeNumber('--retries', f.retries, 0, 100)!,
    pageSize: wholeNumber('--page_size', f.page_size, 1, 1000)!,
    http: {
      timeoutMs: seconds('--request_timeout', f.request_timeout)! * 1000,
      proxy: f.proxy,
      proxyUser: f.proxy_user,
      // the environment keeps the password out of `ps` and of crontab lines
      proxyPassword: f.proxy_password ?? (f.proxy_user !== undefined ? process.env.SIEM_AGENT_PROXY_PASSWORD : undefined),
      caFile: f.ca_file,
      insecure: f.insecure === true,
    },
    logFile: f.customfile ?? f.log_file,
    logFormat: oneOf('--log_format', f.log_format, ['text', 'json'] as const),
    argv: redactArgv(argv),
  };
}
