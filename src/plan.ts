import type { Marker } from './state/marker.js';
import type { Filters } from './source/pager.js';
import { RETENTION_DAYS, RETENTION_MARGIN_MS, type RunOptions } from './options.js';
import { SEVERITIES, type AppName } from './types.js';
import { StateError } from './errors.js';
import { apiTimeMs } from './time.js';

const DEFAULT_SEVERITY: Record<AppName, string[]> = {
  Investigate: ['error', 'critical', 'warning'],
  Detect: ['high', 'medium', 'low'],
};

/** The query filters for one app, or undefined when the chosen severities leave nothing for it. */
export function filtersFor(app: AppName, o: Pick<RunOptions, 'severity' | 'service' | 'objectType' | 'activityType'>): Filters | undefined {
  let severity: string[] | undefined;
  if (!o.severity) severity = DEFAULT_SEVERITY[app];
  else if (!o.severity.includes('all')) {
    severity = o.severity.filter((s) => SEVERITIES[app].includes(s));
    if (severity.length === 0) return undefined;
  }
  return { severity, service: o.service, object_type: o.objectType, activity_type: o.activityType };
}

/**
 * A selection as one line, for the state file and messages: the filters a run sends for an app,
 * each list sorted. One marker serves one selection: a run with other filters that moved it would
 * make the next run with the first ones skip every log between (they were never fetched for it).
 */
export function filtersKey(f: Filters): string {
  const parts: string[] = [];
  for (const k of ['severity', 'service', 'object_type', 'activity_type'] as const) {
    const v = f[k];
    if (v && v.length > 0) parts.push(`${k}=${[...v].sort().join(',')}`);
  }
  return parts.length ? parts.join(' ') : 'no filter';
}

/**
 * A run's filters against those the stored marker was made with: nothing to say, a warning
 * (--start_date re-baselines the marker for this selection; a dry run moves nothing), or the
 * error that stops this app: one marker, two selections, and whichever ran last would make the
 * other skip what it never fetched.
 */
export function checkSelection(app: AppName, stored: Marker | undefined, storedKey: string | undefined, key: string, o: Pick<RunOptions, 'startDate' | 'dryRun'>): string | StateError | undefined {
  if (!stored || storedKey === undefined || storedKey === key) return undefined;
  const why = `${app}: export_log.state holds the marker of runs with other filters (${storedKey}); this run asks for ${key}`;
  if (o.dryRun) return `${why}; a dry run moves nothing`;
  if (o.startDate) return `${why}; --start_date: the marker is for ${key} from now on`;
  return new StateError(`${why}. Moving it would make those runs skip logs: give this selection its own --state_dir, or start this state over for it with --start_date ${stored.timestamp.slice(0, 10)}`);
}

export interface StartPoint {
  start: string;             // ISO, inclusive lower bound of the first query
  marker?: Marker;           // ids at `start` already delivered
  replaceMarker: boolean;    // --start_date: the stored marker is replaced now
  gap?: { from: string; to: string; seconds: number };
}

/** The oldest time the API keeps, by a clock reading `now`. */
const retentionEdge = (now: number): number => now - RETENTION_DAYS * 86_400_000;
/** The oldest time a run starts at, by a clock reading `now`: inside the retention by a margin. */
export const oldestStart = (now: number): number => retentionEdge(now) + RETENTION_MARGIN_MS;

/**
 * How far inside the retention a marker or --start_date must be to be used as it is: one still
 * inside it names logs the API serves, which a run must not skip (a later page refused as out of
 * retention fails that run, and the next one starts again from its marker).
 */
const KEEP_INSIDE_MS = 60_000;

/** Where an app's run begins: --start_date, else the stored marker, else the oldest retained log. */
export function startPoint(stored: Marker | undefined, o: Pick<RunOptions, 'startDate'>, now: number): StartPoint {
  const oldest = oldestStart(now);
  let sp: StartPoint;
  if (o.startDate) {
    const ts = `${o.startDate}T00:00:00.000Z`;
    sp = { start: ts, marker: { timestamp: ts, ids: [] }, replaceMarker: true };
  } else if (stored) {
    sp = { start: new Date(apiTimeMs(stored.timestamp)).toISOString(), marker: stored, replaceMarker: false };
  } else {
    return { start: new Date(oldest).toISOString(), replaceMarker: false };
  }
  const startMs = apiTimeMs(sp.start);
  if (startMs < retentionEdge(now) + KEEP_INSIDE_MS) {
    const to = new Date(oldest).toISOString();
    return {
      start: to,
      marker: { timestamp: to, ids: [] },
      replaceMarker: true,
      gap: { from: sp.start, to, seconds: Math.round((oldest - startMs) / 1000) },
    };
  }
  return sp;
}
