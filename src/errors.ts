/**
 * Errors are values until cli.ts: modules throw these, never print or exit.
 * Every message is one line meant for the user and must never contain a secret.
 */
export class AgentError extends Error {
  /** Process exit status cli.ts uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message.replace(/[\r\n]+/g, ' '));
    this.name = new.target.name;
  }
}

/** Bad flag or flag value. */
export class UsageError extends AgentError {}
/** config.json missing, unreadable, bad JSON or bad key. */
export class ConfigError extends AgentError {}
/** export_log.state / last_job.status unreadable, corrupt, or state dir not writable. */
export class StateError extends AgentError {}
/** The API answered something we cannot go on with (auth, 4xx, retries spent, bad records). */
export class ApiError extends AgentError {
  /** The API's clock when it answered (its Date header, epoch ms), if it sent one. */
  serverTime?: number;
  constructor(message: string, readonly status?: number, readonly retryable = false) {
    super(message);
  }
}
/**
 * The output could not accept logs (socket down, disk full, pipe closed). `delivered` counts
 * the lines of the failed write that were confirmed before it failed, so the marker can stop
 * exactly at the last delivered log.
 */
export class OutputError extends AgentError {
  constructor(message: string, readonly delivered = 0, readonly code?: string) {
    super(message);
  }
}
/** The run was stopped by a signal or by --max_runtime; what was delivered is checkpointed. */
export class InterruptedError extends AgentError {}

/** Maps any thrown value to the one line shown to the user. */
export function describe(err: unknown): string {
  if (err instanceof AgentError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`.replace(/[\r\n]+/g, ' ');
  return String(err);
}

export function exitCodeOf(err: unknown): number {
  return err instanceof AgentError ? err.exitCode : 1;
}

/**
 * What to do about a certificate the agent refused: trusting another CA (`caFlag`, --ca_file for
 * the API, --tls_ca for a syslog receiver) helps only an unknown issuer.
 */
export function tlsAdvice(code: string, caFlag: '--ca_file' | '--tls_ca'): string {
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'its certificate is out of its validity dates (or this host\'s clock is wrong)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'its certificate is not for this host name; use the name it was issued for';
  if (code === 'CERT_REVOKED') return 'its certificate is revoked';
  return `trust its CA with ${caFlag}`;
}
