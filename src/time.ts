/*
 * The API's timestamps are UTC (api-contract.md), but Date.parse reads a date-time without a
 * zone designator ("2026-11-22T10:00:00.123") as the host's local time: rt, devTime, the marker
 * and the repeat check would then shift by the agent host's UTC offset. Date.parse is also
 * lenient: it rolls an impossible day over ("2026-09-31" is October 1) and reads spellings that
 * are not ISO 8601 ("2026/11/23 10:00:00") in local time. So only ISO 8601 is taken, and a day
 * the calendar does not have is no time at all.
 */

// a day, or a day and a time with optional seconds, fraction and zone (Z, ±hh:mm, ±hhmm, ±hh);
// RFC 3339 §5.6 allows a lower-case t and z
const ISO = /^(\d{4}-\d\d-\d\d)(?:[Tt ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([Zz]|[+-]\d\d(?::?\d\d)?)?)?$/;

/** Epoch milliseconds of an API (or marker) timestamp, read as UTC when it names no zone; NaN when invalid. */
export function apiTimeMs(s: string): number {
  // the usual case, every record (2026-11-22T10:00:00.123Z): a few character compares, then
  // Date.parse, which takes this form strictly but for the day of the month
  if (isCanonical(s)) return realDay(s) ? Date.parse(s) : NaN;
  const m = ISO.exec(s);
  if (!m || !realDay(s)) return NaN;
  const [, day, time, zone] = m;
  if (time === undefined) return Date.parse(`${day}T00:00:00Z`);
  const z = zone === undefined || zone === 'Z' || zone === 'z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  return Date.parse(`${day}T${time}${z}`);
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` (its separators: Date.parse checks the digits). */
function isCanonical(s: string): boolean {
  return s.length === 24 && s.charCodeAt(23) === 0x5a && s.charCodeAt(10) === 0x54 && s.charCodeAt(4) === 0x2d && s.charCodeAt(7) === 0x2d &&
    s.charCodeAt(13) === 0x3a && s.charCodeAt(16) === 0x3a && s.charCodeAt(19) === 0x2e;
}

const digits2 = (s: string, i: number): number => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;

/** Whether the YYYY-MM-DD that s starts with is a day of the calendar. */
function realDay(s: string): boolean {
  const day = digits2(s, 8);
  if (day <= 28) return day >= 1; // every month has these; Date.parse checks the month
  const month = digits2(s, 5);
  if (month === 2) {
    const year = digits2(s, 0) * 100 + digits2(s, 2);
    return day === 29 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  }
  return day <= (month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31);
}

/** Whether s is written exactly as toISOString writes the instant ms (then it says nothing more than ms). */
export function sameAsIso(s: string, ms: number): boolean {
  // canonical and before 24:00 (which Date.parse takes as the next day's 00:00)
  if (isCanonical(s) && !(s.charCodeAt(11) === 0x32 && s.charCodeAt(12) === 0x34)) return true;
  return Number.isFinite(ms) && new Date(ms).toISOString() === s;
}
