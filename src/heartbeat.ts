import { hostname } from 'node:os';
import type { AppProgress } from './state/status.js';
import type { LogRecord } from './types.js';
import { VERSION } from './version.js';

/**
 * The agent's own event, sent through the same format and output at the end of a run, so the
 * SIEM can alert on "no heartbeat for 30 minutes": the one failure nothing else reveals.
 */
export function heartbeatRecord(runId: string, apps: Record<string, AppProgress>, errors: string[]): LogRecord {
  const delivered = Object.values(apps).reduce((n, a) => n + a.delivered, 0);
  const lags = Object.values(apps).map((a) => a.lag_seconds).filter((l): l is number => l !== undefined);
  const lag = lags.length ? Math.max(...lags) : null;
  return {
    _id: `siem-agent-heartbeat-${runId}`,
    created_timestamp: new Date().toISOString(),
    severity: errors.length ? 'error' : 'informational',
    service: 'siem-agent',
    activity_type: 'Heartbeat',
    name: 'siem-agent heartbeat',
    message: `siem-agent ${VERSION} on ${hostname()}: delivered ${delivered}, lag ${lag ?? 'unknown'} s, ${errors.length ? `errors: ${errors.join('; ')}` : 'no errors'}`,
    host_name: hostname(),
    agent_version: VERSION,
    delivered,
    lag_seconds: lag,
    errors: errors.length,
    apps: Object.fromEntries(Object.entries(apps).map(([k, a]) => [k, { delivered: a.delivered, lag_seconds: a.lag_seconds ?? null, marker: a.marker ?? null, error: a.error ?? null }])),
  };
}
