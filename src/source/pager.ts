import { ApiError } from '../errors.js';
import { isExact } from '../exact-numbers.js';
import type { AppName, LogRecord } from '../types.js';
import type { Marker } from '../state/marker.js';
import { fetchPage, type ClientContext } from './client.js';
import type { PageLogs } from './page-json.js';
import { Dedup } from './dedup.js';
import { apiTimeMs } from '../time.js';
import { believable } from '../clock.js';
import { humanDuration } from '../summary.js';

/** How far behind this host's the API's clock (its Date header, whole seconds) may read and still agree. */
const CLOCKS_AGREE_MS = 2000;

export interface Filters {
  severity?: string[];
  service?: string[];
  object_type?: string[];
  activity_type?: string[];
}

export interface PagerOptions {
  app: AppName;
  start: string;            // ISO timestamp, inclusive
  marker?: Marker;          // ids at `start` already delivered
  filters: Filters;
  pageSize: number;
  maxLogs: number;
  /** Raise maxLogs to this when the first page reports a larger backlog (only when the user did not set it). */
  raiseTo?: number;
  /**
   * Epoch ms: logs created after it are left for a later run, and the chain stops at the first
   * one. The API shows a log once it is inserted, seconds after it was created; a marker moved
   * past a log not shown yet would skip it for good (--ingest_delay).
   */
  until?: number;
  /**
   * --ingest_delay in ms: the cutoff is also counted from the API's own clock (its Date header)
   * when it is earlier than `until`, so a host clock ahead of the API's cannot move the marker past
   * a log the API has not shown yet.
   */
  ingestDelayMs?: number;
  /**
   * When the first page is refused with a 400 and the API's clock says the start is out of its
   * retention (a host clock behind the API's puts the oldest allowed time before the API's), the
   * chain starts again at `oldest(serverTime)`, once; `onClamp` records the gap once that query
   * has been answered.
   */
  retention?: { oldest: (serverTime: number) => number; onClamp: (from: string, to: string) => Promise<void> };
}

export interface Taken {
  records: LogRecord[];
  duplicates: number;
  /** The newest created_timestamp among the page's new logs, those left for later included (epoch ms). */
  newest?: number;
}

export interface Batch {
  page: number;
  /**
   * The page's new logs (not delivered before, nor twice on this page), in time order, at most
   * what is left of maxLogs: parsed, checked and counted now. Call it once, before asking for the
   * next batch (the pager counts these against maxLogs and remembers their ids for the next
   * page). The records are the caller's: let go of each as soon as it is formatted.
   */
  take(): Taken;
  totalCount?: number;
  next: string | null;
  fetchMs: number;
  maxLogs: number;          // the limit in force (after any automatic raise)
  /** The API's clock when it answered this page (its Date header), if it sent one. */
  serverTime?: number;
}

const enc = (v: string) => encodeURIComponent(v);

export function firstQuery(tenant: string, o: Pick<PagerOptions, 'app' | 'start' | 'filters' | 'pageSize'>): string {
  const parts = [
    `app=${o.app}`,
    `subtype=${o.app === 'Investigate' ? 'all' : 'incidents'}`,
    `created_timestamp=${enc(o.start)}`,
    `limit=${o.pageSize}`,
  ];
  for (const key of ['severity', 'service', 'object_type', 'activity_type'] as const) {
    const values = o.filters[key];
    if (values && values.length > 0) parts.push(`${key}=${values.map(enc).join(',')}`);
  }
  return `${enc(tenant)}/api/admin/v1/logs/get/?${parts.join('&')}`;
}

/**
 * Follows one app's page chain from the marker, yielding only logs not delivered before and
 * stopping exactly at maxLogs. The caller takes, delivers and checkpoints each batch; because
 * this is a generator, asking for the next batch while writing the current one prefetches one
 * page. A prefetched page waits as the bytes of its body, outside V8's heap (see page-json.ts).
 */
export async function* pages(ctx: ClientContext, o: PagerOptions): AsyncGenerator<Batch> {
  let dedup = new Dedup(o.marker, apiTimeMs(o.start));
  let path: string | null = firstQuery(ctx.config.tenant, o);
  let until = o.until;
  let maxLogs = o.maxLogs;
  let yielded = 0;
  // every page asked for in this chain: a meta.next back to one of them is a loop (whose logs,
  // all repeats, would never fill maxLogs: the run would ask the API for it until --max_runtime)
  const followed = new Set<string>();
  for (let pageNo = 1; path !== null && yielded < maxLogs; pageNo++) {
    const t0 = performance.now();
    const what = `${o.app} page ${pageNo}`;
    if (followed.has(path)) throw new ApiError(`API ${o.app} page ${pageNo - 1}: meta.next leads back to a page already read; refusing to loop`, 200);
    followed.add(path);
    let page;
    try {
      page = await fetchPage(ctx, path, what);
    } catch (e) {
      const to = pageNo === 1 ? outOfRetention(e, o) : undefined;
      if (to === undefined) throw withClockHint(e);
      // the same first query from the oldest time the API's clock allows, once; the gap is
      // recorded (and the marker moved) only once the API has answered it
      path = firstQuery(ctx.config.tenant, { ...o, start: to });
      followed.add(path);
      page = await fetchPage(ctx, path, what);
      await o.retention!.onClamp(o.start, to);
      dedup = new Dedup(undefined, apiTimeMs(to));
    }
    const fetchMs = performance.now() - t0;
    if (until !== undefined && o.ingestDelayMs !== undefined && believable(page.serverTime)) {
      // A host clock ahead of the API's: the cutoff by the API's, its Date as sent (the API's
      // clock read no more than that, give or take the header's whole seconds, when it ran the
      // query). Clocks that agree keep this host's cutoff, to the millisecond: the Date's
      // truncated second would hold back the last second of logs for nothing.
      const byApi = page.serverTime - o.ingestDelayMs;
      if (byApi < until - CLOCKS_AGREE_MS) until = byApi;
    }
    const total = typeof page.meta.total_count === 'number' ? page.meta.total_count : undefined;
    if (pageNo === 1 && o.raiseTo && total !== undefined && total > maxLogs) maxLogs = Math.max(maxLogs, o.raiseTo);
    path = page.meta.next ?? null;
    if (path !== null && page.logs.length === 0) {
      throw new ApiError(`API returned an empty ${what} with a next page; refusing to loop`, 200);
    }
    // The API sends at most `limit` logs (a few more when it repeats some of the page before);
    // tens of thousands, parsed, could exceed the agent's heap: a clear error instead of a crash
    if (page.logs.length > 2 * Math.max(o.pageSize, 1000)) {
      page.logs.release();
      throw new ApiError(`API ${what}: ${page.logs.length} logs, far more than the ${o.pageSize} asked for (limit)`, 200);
    }
    const logs = page.logs;
    const room = maxLogs - yielded;
    let taken = false;
    let settled = true;
    const take = (): Taken => {
      if (taken) throw new Error(`${what} was taken twice`);
      taken = true;
      try {
        const fresh = newLogs(logs, dedup, room, what, until);
        settled = !fresh.reachedUntil;
        yielded += fresh.records.length;
        return fresh;
      } finally {
        logs.release();
      }
    };
    // Suspended here, the generator still holds whatever its variables hold when the consumer
    // asks for the next page (at once: the prefetch). A page parsed and held until that fetch
    // returned was copied by the young-generation GCs meanwhile and promoted: so what waits here
    // is the page's bytes, and deliverApp lets go of its records and lines likewise.
    yield { page: pageNo, take, totalCount: total, next: path, fetchMs, maxLogs, serverTime: page.serverTime };
    // the next page's repeats and room depend on this one's logs
    if (!taken) throw new Error(`${what} was not taken before the next page was asked for`);
    if (!settled) return; // the rest is newer than --ingest_delay allows: a later run's
  }
}

/**
 * The API refusing a query as older than its retention: the contract's 400 for it says
 * "retention"; any other 400 (a proxy's, a load balancer's) is no reason to move a marker.
 */
const isRetention400 = (e: unknown): e is ApiError => e instanceof ApiError && e.status === 400 && /retention/i.test(e.message);

/**
 * The start the first query should have had, when `e` is the API refusing it as older than its
 * retention by its own clock (a 400 with a Date header that puts the start before the oldest time
 * allowed); undefined for any other error, which stays an error.
 */
function outOfRetention(e: unknown, o: PagerOptions): string | undefined {
  if (!o.retention || !isRetention400(e) || !believable(e.serverTime)) return undefined;
  const oldest = o.retention.oldest(e.serverTime);
  return apiTimeMs(o.start) < oldest ? new Date(oldest).toISOString() : undefined;
}

/**
 * A retention 400 the agent could not correct by the API's clock (no Date header, or one more
 * than a day off) comes from a clock that is wrong here or there: the message says which to check.
 */
function withClockHint(e: unknown): unknown {
  if (!isRetention400(e) || believable(e.serverTime)) return e;
  const hint = e.serverTime === undefined
    ? 'is this host\'s clock behind the API\'s? (it sent no Date header to compare)'
    : `the API's Date header says ${new Date(e.serverTime).toISOString()}, ${humanDuration(Math.round(Math.abs(e.serverTime - Date.now()) / 1000))} from this host's clock: is this host's clock right?`;
  return Object.assign(new ApiError(`${e.message}; ${hint}`, e.status), { serverTime: e.serverTime });
}

/**
 * The page's logs not delivered before (nor twice on this page), in time order, at most `room`,
 * none created after `until` (reachedUntil: one was).
 */
function newLogs(logs: PageLogs, dedup: Dedup, room: number, what: string, until = Infinity): Taken & { reachedUntil: boolean } {
  const fresh: LogRecord[] = [];
  const times: number[] = [];
  let duplicates = 0;
  const seenHere = new Set<string>();
  for (let i = 0; i < logs.length; i++) {
    const rec = parseLog(logs, i, what);
    const ms = checkRecord(rec, i, what);
    if (dedup.isRepeat(rec._id, ms) || seenHere.has(rec._id)) {
      duplicates++;
      continue;
    }
    seenHere.add(rec._id);
    fresh.push(rec);
    times.push(ms);
  }
  sortByTime(fresh, times);
  const newest = times.length > 0 ? times[times.length - 1] : undefined;
  let cut = Math.min(room, fresh.length);
  let reachedUntil = false;
  // the page's newest logs come last (sorted): usually none is too new
  if (cut > 0 && times[cut - 1]! > until) {
    reachedUntil = true;
    while (cut > 0 && times[cut - 1]! > until) cut--;
  }
  fresh.length = cut;
  times.length = cut;
  dedup.remember(fresh, times);
  return { records: fresh, duplicates, reachedUntil, newest };
}

function parseLog(logs: PageLogs, i: number, what: string): LogRecord {
  try {
    return logs.at(i) as LogRecord;
  } catch {
    // the body was split into logs, but this one is not JSON; the page is bad as a whole
    throw new ApiError(`API ${what}: log #${i + 1} is not valid JSON`, 200);
  }
}

function checkRecord(rec: LogRecord, i: number, what: string): number {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new ApiError(`API ${what}: log #${i + 1} is not an object`, 200);
  // a number is no _id, however long (a long one is a marked string here: exact-numbers.ts)
  if (typeof rec._id !== 'string' || rec._id === '' || isExact(rec._id)) throw new ApiError(`API ${what}: log #${i + 1} has no _id`, 200);
  const ms = typeof rec.created_timestamp === 'string' ? apiTimeMs(rec.created_timestamp) : NaN;
  if (Number.isNaN(ms)) {
    const sent = JSON.stringify(rec.created_timestamp);
    throw new ApiError(`API ${what}: log ${JSON.stringify(rec._id).slice(0, 64)} has no valid created_timestamp (${sent === undefined ? 'none' : `got ${sent.length > 48 ? `${sent.slice(0, 48)}…` : sent}`}; ISO 8601 expected)`, 200);
  }
  return ms;
}

/** Stable sort by time; pages are already ascending, so this is almost always a no-op check. */
function sortByTime(records: LogRecord[], times: number[]): void {
  let sorted = true;
  for (let i = 1; i < times.length; i++) if (times[i]! < times[i - 1]!) { sorted = false; break; }
  if (sorted) return;
  const idx = records.map((_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b);
  const r2 = idx.map((i) => records[i]!);
  const t2 = idx.map((i) => times[i]!);
  records.splice(0, records.length, ...r2);
  times.splice(0, times.length, ...t2);
}
