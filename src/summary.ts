import type { AppProgress } from './state/status.js';

export function humanDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d${String(Math.floor((seconds % 86400) / 3600)).padStart(2, '0')}h`;
}

/** The run summary, one line per app, in the agent's log and on a terminal. */
export function summaryLine(app: string, p: AppProgress, ms: number): string {
  const rate = ms > 0 ? Math.round((p.delivered * 1000) / ms) : 0;
  const parts = [
    `${app}: delivered ${p.delivered}`,
    `duplicates dropped ${p.duplicates}`,
    `pages ${p.pages}`,
    `retries ${p.retries}`,
    `truncated ${p.truncated}`,
    `marker ${p.marker ?? 'none'}`,
    `lag ${p.lag_seconds === undefined ? 'unknown' : humanDuration(p.lag_seconds)}`,
    `duration ${(ms / 1000).toFixed(1)}s`,
    `rate ${rate} logs/s`,
  ];
  if (p.gap) parts.push(`GAP ${humanDuration(p.gap.seconds)} lost to retention (${p.gap.from} .. ${p.gap.to})`);
  if (p.error) parts.push(`error: ${p.error}`);
  return parts.join(', ');
}
