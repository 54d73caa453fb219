import { OutputError } from './errors.js';
import type { Format, FormatContext } from './format/index.js';
import { syslogSeverity } from './format/fields.js';
import { believable, CLOCK_TOLERANCE_MS } from './clock.js';
import type { Output } from './output/types.js';
import { pages, type PagerOptions } from './source/pager.js';
import type { ClientContext } from './source/client.js';
import { advanceMarker, type Marker, type MarkerKey } from './state/marker.js';
import type { AppProgress } from './state/status.js';
import type { AppName, LogRecord } from './types.js';
import type { Logger } from './log.js';

export interface AppRun {
  app: AppName;
  client: ClientContext;
  pager: PagerOptions;
  format: Format;
  fmt: FormatContext;
  output: Output;
  /** Persists the marker; resolves once it is durable. */
  commit: (m: Marker | undefined) => Promise<void>;
  progress: AppProgress;
  onPage: () => void;
  /** Each page's Date header (the API's clock), for the run's clock check. */
  onServerTime?: (serverTime: number) => void;
  stop: AbortSignal;
  log: Logger;
}

interface Formatted { lines: string[]; sev: number[]; keys: MarkerKey[] }

/**
 * A page's lines, syslog severities and what the marker needs of it (ids and timestamps). Each
 * record is let go of once formatted (the array is emptied as it goes), so the young-generation
 * GCs the formatting triggers do not copy the records already done.
 *
 * A function of its own so that V8 optimises this loop (with the formatter inlined) alone: inside
 * deliverApp it optimised the whole async function around it, a 47 ms compile on a background
 * thread, repeated after any deoptimisation.
 */
function formatPage(records: (LogRecord | undefined)[], format: Format, fmt: FormatContext): Formatted {
  const n = records.length;
  const lines = new Array<string>(n);
  const sev = new Array<number>(n);
  const keys = new Array<MarkerKey>(n);
  for (let i = 0; i < n; i++) {
    const rec = records[i]!;
    records[i] = undefined;
    lines[i] = format(rec, fmt);
    sev[i] = syslogSeverity(rec.severity);
    keys[i] = { _id: rec._id, created_timestamp: rec.created_timestamp };
  }
  records.length = 0;
  return { lines, sev, keys };
}

/**
 * How many of a page's lines count as delivered when its write failed or was stopped part-way
 * (a --rate chunk, a signal, a full disk). Lines the output took still count only once it
 * confirms them (syncs the file, sees the connection stay up), as for a whole page.
 */
async function partlyDelivered(e: unknown, output: Output): Promise<number> {
  if (!(e instanceof OutputError) || e.delivered === 0) return 0;
  if (!output.confirm) return e.delivered;
  return output.confirm().then(() => e.delivered, () => 0);
}

/**
 * One app's stream: fetch a page (the next one is fetched while this one is written), format,
 * write, and only then commit the marker. A failed write commits exactly the lines it delivered.
 */
export async function deliverApp(r: AppRun): Promise<Marker | undefined> {
  let marker = r.pager.marker;
  let clockWarned = false;
  const it = pages(r.client, r.pager);
  // A prefetch can fail while the current page is being written; mark it handled at once so it is
  // not an unhandled rejection (a crash with a stack trace), and rethrow it where it is awaited.
  const ahead = () => {
    const p = it.next();
    p.catch(() => undefined);
    return p;
  };
  let pending = ahead();
  try {
    for (;;) {
      const res = await pending;
      if (res.done) break;
      const batch = res.value;
      r.progress.pages++;
      if (batch.page === 1) r.progress.total = batch.totalCount;
      const t0 = performance.now();
      // parsed only now, and taken before the next page is asked for (see pages())
      const { records, duplicates, newest } = batch.take();
      if (batch.serverTime !== undefined) r.onServerTime?.(batch.serverTime);
      // Logs dated after the clocks hold back (the marker never passes the cutoff), and nothing
      // else would say so. With the API's Date header, a host clock behind is the run's warning
      // (onServerTime); what is left is logs dated after the API's own clock.
      const api = believable(batch.serverTime) ? batch.serverTime : undefined;
      const apiNow = api ?? Date.now();
      if (!clockWarned && newest !== undefined && newest > apiNow + CLOCK_TOLERANCE_MS) {
        clockWarned = true;
        const ahead = `${new Date(newest).toISOString()}, ${Math.round((newest - apiNow) / 1000)} s after`;
        r.log.warn(api !== undefined
          ? `${r.app}: the API has logs dated in the future, up to ${ahead} the API's own clock (its Date header); they are delivered once their time plus --ingest_delay has passed`
          : `${r.app}: the API has logs created up to ${ahead} this host's clock: is its clock behind? (logs wait until it passes their time plus --ingest_delay)`);
      }
      r.progress.duplicates += duplicates;
      r.progress.cursor = batch.next;
      // one page ahead, no more: the generator runs to its next yield while we write this one
      if (!r.stop.aborted && batch.next !== null) pending = ahead();
      else pending = Promise.resolve({ done: true, value: undefined });

      // The records are gone once formatted, and the lines once written: the GCs the other app's
      // work triggers during the awaits below do not copy them.
      let formatted: Formatted | undefined = formatPage(records, r.format, r.fmt);
      const keys = formatted.keys;
      const tFormat = performance.now();
      try {
        if (keys.length > 0) {
          await r.output.write(formatted.lines, formatted.sev);
          formatted = undefined;
          await r.output.confirm?.();
        }
      } catch (e) {
        const delivered = await partlyDelivered(e, r.output);
        if (delivered > 0) {
          marker = advanceMarker(marker, keys.slice(0, delivered));
          r.progress.delivered += delivered;
          r.progress.marker = marker?.timestamp;
          await r.commit(marker);
        }
        throw e;
      }
      const tWrite = performance.now();
      marker = advanceMarker(marker, keys);
      r.progress.delivered += keys.length;
      if (keys.length > 0) await r.commit(marker);
      r.progress.marker = marker?.timestamp;
      r.log.debug(
        `${r.app} page ${batch.page}: ${keys.length} new, ${duplicates} repeated, total_count ${batch.totalCount ?? '?'}; ` +
          `fetch ${batch.fetchMs.toFixed(0)} ms, parse and format ${(tFormat - t0).toFixed(0)} ms, write ${(tWrite - tFormat).toFixed(0)} ms, ` +
          `commit ${(performance.now() - tWrite).toFixed(0)} ms`,
      );
      r.onPage();
      if (r.stop.aborted) break;
    }
  } finally {
    // an abandoned prefetch must not surface as an unhandled rejection
    pending.catch(() => undefined);
    void it.return(undefined).catch(() => undefined);
  }
  return marker;
}
