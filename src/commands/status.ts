import { dirname, resolve } from 'node:path';
import { describe, UsageError } from '../errors.js';
import { lockHeld } from '../state/lock.js';
import { loadMarkers } from '../state/marker.js';
import { apiTimeMs } from '../time.js';
import { diedHere, readStatus } from '../state/status.js';
import { humanDuration } from '../summary.js';
import { APPS } from '../types.js';

export interface StatusFlags { config: string; state_dir?: string; json?: boolean; max_lag?: string }

export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(v.trim());
  if (!m) throw new UsageError(`${flag}: expected a duration such as 900, 45m, 2h or 1d, got "${v}"`);
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]!]!;
}

/** `siem-agent status`: what monitoring needs to know, exit 1 when something is wrong. */
export async function status(f: StatusFlags): Promise<number> {
  const stateDir = resolve(f.state_dir ?? dirname(resolve(f.config)));
  const maxLag = f.max_lag !== undefined ? parseDuration('--max_lag', f.max_lag) : undefined;
  const problems: string[] = [];
  // a corrupt state file is exactly what status must report, not die on
  const markers = await loadMarkers(stateDir).catch((e: unknown) => {
    problems.push(describe(e));
    return {} as Awaited<ReturnType<typeof loadMarkers>>;
  });
  const last = await readStatus(stateDir);
  const died = diedHere(last);
  const holder = !died && (await lockHeld(stateDir)) ? (last?.result === 'running' ? last.pid : -1) : undefined;
  const now = Date.now();
  const apps: Record<string, unknown> = {};
  for (const app of APPS) {
    const m = markers[app];
    // a clock set back since the marker was written would make it negative
    const lag = m ? Math.max(0, Math.round((now - apiTimeMs(m.timestamp)) / 1000)) : undefined;
    const gap = last?.apps?.[app]?.gap;
    apps[app] = { marker: m?.timestamp ?? null, lag_seconds: lag ?? null, last_run: last?.apps?.[app] ?? null };
    if (maxLag !== undefined && lag !== undefined && lag > maxLag) problems.push(`${app} is ${humanDuration(lag)} behind (more than --max_lag ${humanDuration(maxLag)})`);
    if (gap) problems.push(`${app} lost ${humanDuration(gap.seconds)} of logs to the API's retention (${gap.from} .. ${gap.to})`);
  }
  // A cron job that stopped leaves the markers where they were, so the lag grows; but an app
  // with no marker yet (nothing ever delivered) has no lag: the last run's time says it then.
  const lastSeen = last ? Date.parse(last.finished_at ?? last.started_at) : NaN;
  if (maxLag !== undefined && holder === undefined && now - lastSeen > maxLag * 1000) {
    problems.push(`no run for ${humanDuration(Math.round((now - lastSeen) / 1000))} (more than --max_lag ${humanDuration(maxLag)}): is the cron job or timer still running it?`);
  }
  if (!last) problems.push(`no run recorded in ${stateDir}`);
  else if (last.result === 'failed' || last.result === 'interrupted') problems.push(`the last run ${last.result}: ${last.error ?? 'no detail'}`);
  else if (last.result === 'running' && holder === undefined) problems.push(`the last run (pid ${last.pid}) died without finishing`);
  const report = {
    state_dir: stateDir,
    healthy: problems.length === 0,
    problems,
    apps,
    last_run: last ? { result: last.result, started_at: last.started_at, finished_at: last.finished_at ?? null, error: last.error ?? null, pid: last.pid, version: last.version } : null,
    lock: { held: holder !== undefined, pid: holder ?? null },
  };
  if (f.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const out: string[] = [];
    for (const app of APPS) {
      const a = apps[app] as { marker: string | null; lag_seconds: number | null };
      out.push(`${app}: marker ${a.marker ?? 'none'}${a.lag_seconds !== null ? ` (lag ${humanDuration(a.lag_seconds)})` : ''}`);
    }
    out.push(last ? `last run: ${last.result}, started ${last.started_at}${last.finished_at ? `, finished ${last.finished_at}` : ''}${last.error ? `: ${last.error}` : ''}` : 'last run: none');
    out.push(holder !== undefined ? `lock: held by pid ${holder}` : 'lock: free');
    for (const p of problems) out.push(`PROBLEM: ${p}`);
    out.push(problems.length === 0 ? 'status: OK' : 'status: FAIL');
    process.stdout.write(`${out.join('\n')}\n`);
  }
  return problems.length === 0 ? 0 : 1;
}
