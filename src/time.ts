/*
 * The API's timestamps are UTC (api-contract.md), but Date.parse reads a date-time without a
 * zone designator ("2026-11-22T10:00:00.123") as the host's local time: rt, devTime, the marker
 * and the repeat check would then shift by the agent host's UTC offset.
 */

// an ISO 8601 date and time with nothing after it: no Z, no ±hh:mm / ±hhmm / ±hh
const NO_ZONE = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?$/;

/** Epoch milliseconds of an API (or marker) timestamp, read as UTC when it names no zone; NaN when invalid. */
export function apiTimeMs(s: string): number {
  // the usual case, every record: one character compare before Date.parse
  if (s.endsWith('Z')) return Date.parse(s);
  return Date.parse(NO_ZONE.test(s) ? `${s}Z` : s);
}
