import type { AppName } from './types.js';
import type { HttpOptions } from './source/http.js';

export type OutputSpec =
  | { kind: 'FILE'; path: string; maxBytes: number; backupCount: number }
  | { kind: 'STREAM'; stream: 'STDOUT' | 'STDERR' }
  | { kind: 'SYSLOG'; socketPath: string; facility: number }
  | {
      kind: 'REMOTE'; host: string; port: number; socketType: 'UDP' | 'TCP' | 'TLS';
      header: 'rfc3164' | 'rfc5424' | 'none'; framing: 'lf' | 'octet'; facility: number;
      tlsCa?: string; tlsCert?: string; tlsKey?: string;
    };

/** Everything one run needs, parsed and validated by cli.ts. */
export interface RunOptions {
  configPath: string;
  stateDir: string;
  apps: AppName[];
  severity?: string[];        // undefined = per-app defaults; includes 'all' = no filter
  service?: string[];
  objectType?: string[];
  activityType?: string[];
  startDate?: string;         // YYYY-MM-DD
  maxLogs?: number;           // undefined = 10,000 raised to 20,000 on a large backlog
  clearStatus: boolean;
  reset: boolean;
  debug: boolean;
  dryRun: boolean;
  heartbeat: boolean;
  output: OutputSpec;
  format: 'cef' | 'leef' | 'json';
  maxMessageSize: number;     // 0 = unlimited
  rate?: number;              // lines per second; undefined = unpaced
  maxRuntimeS: number;
  /** Logs created less than this long before the run started are left for a later run. */
  ingestDelayS: number;
  reconnectS: number;         // TCP/TLS/local socket: give up reconnecting after this long
  retries: number;
  pageSize: number;
  http: HttpOptions;
  logFile?: string;
  logFormat: 'text' | 'json';
  argv: string[];             // for last_job.status, secrets already removed
}

export const DEFAULT_MAX_LOGS = 10_000;
export const RAISED_MAX_LOGS = 20_000;
export const RETENTION_DAYS = 180;
/** Start this far inside the retention window so clock skew never earns a 400. */
export const RETENTION_MARGIN_MS = 10 * 60_000;
