import type { LogRecord } from '../types.js';
import type { Marker } from '../state/marker.js';
import { apiTimeMs } from '../time.js';

const WINDOW_PAGES = 3;

/**
 * Drops logs already delivered, in bounded memory. Pages come in ascending time order and a
 * repeat can only come from a page shortly before (pages shift when logs are inserted), so we
 * keep the ids of the last few pages plus every id at the oldest timestamp still in that
 * window; a log older than the window can only be a repeat. Memory stays flat on long backfills.
 */
export class Dedup {
  private recent = new Map<string, number>(); // id -> created ms
  private pageFloors: number[] = [];
  private floor: number;

  constructor(start: Marker | undefined, startMs: number) {
    this.floor = startMs;
    if (start) for (const id of start.ids) this.recent.set(id, apiTimeMs(start.timestamp));
  }

  isRepeat(id: string, ms: number): boolean {
    return ms < this.floor || this.recent.has(id);
  }

  /** Record a page's new logs (given with their parsed times). */
  remember(records: readonly LogRecord[], times: readonly number[]): void {
    if (records.length === 0) return;
    let min = Infinity;
    for (let i = 0; i < records.length; i++) {
      this.recent.set(records[i]!._id, times[i]!);
      if (times[i]! < min) min = times[i]!;
    }
    this.pageFloors.push(min);
    if (this.pageFloors.length > WINDOW_PAGES) {
      this.pageFloors.shift();
      const floor = Math.min(...this.pageFloors);
      if (floor > this.floor) {
        this.floor = floor;
        // forEach, not `for (const [id, ms] of ...)`: the destructuring iterator made this
        // method one of V8's costliest background compiles of a run (~20 ms)
        const recent = this.recent;
        recent.forEach((ms, id) => {
          if (ms < floor) recent.delete(id);
        });
      }
    }
  }
}
