import type { AppProgress } from './state/status.js';

/**
 * A live progress line for people watching a backfill on a terminal: logs, rate, ETA from the
 * API's total_count. Never under cron (stderr is not a TTY there) and not with -d.
 */
export function progressLine(enabled: boolean): { update(apps: Record<string, AppProgress>): void; clear(): void } {
  const t0 = Date.now();
  let shown = false;
  return {
    update(apps) {
      if (!enabled) return;
      const pages = Object.values(apps).reduce((n, a) => n + a.pages, 0);
      if (pages < 3) return; // a few pages is not a backfill
      const secs = (Date.now() - t0) / 1000;
      const parts = Object.entries(apps).map(([app, a]) => {
        const rate = secs > 0 ? a.delivered / secs : 0;
        const left = a.total !== undefined ? Math.max(0, a.total - a.delivered) : undefined;
        const eta = left !== undefined && rate > 0 ? ` ETA ${Math.round(left / rate)}s` : '';
        return `${app} ${a.delivered}${a.total !== undefined ? `/${a.total}` : ''} logs ${Math.round(rate)}/s${eta}`;
      });
      process.stderr.write(`\r\x1b[K${parts.join(' | ')}`);
      shown = true;
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}
