import type { Logger } from './log.js';
import { humanDuration } from './summary.js';

/*
 * The API's clock, as its HTTP Date header tells it, checks this host's: --ingest_delay's cutoff
 * and the retention edge are counted on this host's clock, and one off from the API's makes logs
 * wait longer (behind) or lets a marker pass logs not shown yet (ahead; the pager also cuts off
 * by the API's time). A Date header is believed only within a day of this host's clock: further
 * off, one of the two is broken (a device with no clock, a proxy's own Date), and which one
 * cannot be told, so it is ignored, with a warning, rather than stop delivery or skip logs.
 */

/** How far a clock (this host's, or a log's time) may be off the API's before a run says so. */
export const CLOCK_TOLERANCE_MS = 60_000;
const TOLERANCE_S = CLOCK_TOLERANCE_MS / 1000;
const BELIEVED_MS = 86_400_000;

/** Whether a Date header's time is close enough to this host's clock to be used. */
export function believable(serverTime: number | undefined, now = Date.now()): serverTime is number {
  return serverTime !== undefined && Math.abs(serverTime - now) <= BELIEVED_MS;
}

/** A check of the API's clock against this host's, said once a run, whichever app sees it first. */
export function clockCheck(log: Logger): (serverTime: number) => void {
  let checked = false;
  return (serverTime) => {
    if (checked) return;
    checked = true;
    // the Date header has whole seconds, and the answer took some time to arrive
    const skew = Math.round((serverTime - Date.now()) / 1000);
    if (Math.abs(skew) <= TOLERANCE_S) return;
    if (!believable(serverTime)) {
      log.warn(`the API's Date header (${new Date(serverTime).toISOString()}) is ${humanDuration(Math.abs(skew))} from this host's clock: one of them is wrong; the header is ignored and this host's clock used`);
    } else if (skew > 0) {
      log.warn(`this host's clock is ${humanDuration(skew)} behind the API's (its Date header): logs wait that much longer than --ingest_delay; set the clock right (NTP)`);
    } else {
      log.warn(`this host's clock is ${humanDuration(-skew)} ahead of the API's (its Date header): logs are cut off at the API's time minus --ingest_delay instead; set the clock right (NTP)`);
    }
  };
}
