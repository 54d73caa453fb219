import { OutputError } from './errors.js';
import type { Format, FormatContext } from './format/index.js';
import { syslogSeverity } from './format/fields.js';
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
  stop: AbortSignal;
  log: Logger;
}

/**
 * A page's lines and syslog severities. A function of its own so that V8 optimises this loop
 * (with the formatter inlined) alone: inside deliverApp it optimised the whole async function
 * around it, a 47 ms compile on a background thread, repeated after any deoptimisation.
 */
function formatPage(records: readonly LogRecord[], format: Format, fmt: FormatContext): { lines: string[]; sev: number[] } {
  const lines = new Array<string>(records.length);
  const sev = new Array<number>(records.length);
  for (let i = 0; i < records.length; i++) {
    lines[i] = format(records[i]!, fmt);
    sev[i] = syslogSeverity(records[i]!.severity);
  }
  return { lines, sev };
}

/** A page's ids and timestamps: all that advanceMarker reads. */
function markerKeys(records: readonly LogRecord[]): MarkerKey[] {
  const keys = new Array<MarkerKey>(records.length);
  for (let i = 0; i < records.length; i++) keys[i] = { _id: records[i]!._id, created_timestamp: records[i]!.created_timestamp };
  return keys;
}

/**
 * One app's stream: fetch a page (the next one is fetched while this one is written), format,
 * write, and only then commit the marker. A failed write commits exactly the lines it delivered.
 */
export async function deliverApp(r: AppRun): Promise<Marker | undefined> {
  let marker = r.pager.marker;
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
      r.progress.duplicates += batch.duplicates;
      r.progress.cursor = batch.next;
      // one page ahead, no more: the generator runs to its next yield while we write this one
      if (!r.stop.aborted && batch.next !== null) pending = ahead();
      else pending = Promise.resolve({ done: true, value: undefined });

      const t0 = performance.now();
      let formatted: { lines: string[]; sev: number[] } | undefined = formatPage(batch.records, r.format, r.fmt);
      // What the marker needs of this page. The records, then the lines once written, are let go
      // of before the awaits that follow them, so that the GCs the other app's work triggers
      // meanwhile do not copy them (see pages() for the figures).
      const keys = markerKeys(batch.records);
      batch.records = [];
      const tFormat = performance.now();
      try {
        if (keys.length > 0) {
          await r.output.write(formatted.lines, formatted.sev);
          formatted = undefined;
          await r.output.confirm?.();
        }
      } catch (e) {
        const delivered = e instanceof OutputError ? e.delivered : 0;
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
        `${r.app} page ${batch.page}: ${keys.length} new, ${batch.duplicates} repeated, total_count ${batch.totalCount ?? '?'}; ` +
          `fetch ${batch.fetchMs.toFixed(0)} ms, format ${(tFormat - t0).toFixed(0)} ms, write ${(tWrite - tFormat).toFixed(0)} ms, ` +
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
