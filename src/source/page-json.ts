/**
 * Parses a logs page's body, giving exactly what `JSON.parse` gives for the whole text (undici's
 * `text()`: UTF-8, a leading BOM skipped), but parsing each log of the top-level "logs" array
 * from its own slice of the bytes, and only when the page is taken (`splitPage`, `PageLogs`).
 *
 * Why log by log: a page of 1,000 logs is ~0.6 MB of UTF-8 that decodes to a ~1.2 MB string (two
 * bytes per character as soon as one log has a non-Latin-1 character, as real logs do). V8 gives
 * every such string fresh memory of its own, and page faults cost ~10 µs each on a small VM.
 * Parsing log by log keeps every string small. Measured on 60 emulator pages, per page: decode +
 * parse + CEF format + encode 19-20 ms -> 15-16 ms, page faults 470-510 -> ~200.
 *
 * Why only when taken: a page waits while the previous one is written (the prefetch). Parsed, its
 * 1,000 records sat in V8's young generation meanwhile and every GC the other app's work
 * triggered copied them and then promoted them; as bytes it sits outside V8's heap. 20,000 logs:
 * promoted 18.8 -> 9.4 MB, scavenge pauses 108 -> 89 ms (--trace-gc-nvp); CPU 0.80-0.85 ->
 * 0.735-0.795 s, wall 0.775-0.805 -> 0.745-0.765 s (medians of 8 and 10 alternating runs).
 *
 * Safety: the fast path only splits the bytes; JSON.parse still checks every piece: each log,
 * and the envelope (the body with the logs array emptied). Whatever it does not expect (a BOM,
 * invalid UTF-8, an escaped key, a log that is not an object, a second "logs" key...) sends
 * the whole body to JSON.parse, so errors and odd documents behave exactly as before. The one
 * difference of parsing late: a log that is not valid JSON inside an otherwise well-formed page
 * is found when the page is taken, not when it is fetched, so it is not retried (the pager
 * reports it as a bad log, like one without an _id).
 */
import { isUtf8 } from 'node:buffer';
import { LONG_DIGITS, parseExact } from '../exact-numbers.js';

export function parseBody(body: Buffer): unknown {
  const doc = fastParse(body);
  if (doc !== undefined) return doc;
  const text = bodyText(body);
  return LONG_NUMBER.test(text) ? parseExact(text) : JSON.parse(text);
}

/**
 * What may be a number JSON.parse would change (see exact-numbers.ts), as matchClose finds them:
 * LONG_DIGITS digits, a decimal point among them or not, or a digit with an exponent.
 */
const LONG_NUMBER = new RegExp(`\\d(?:\\.?\\d){${LONG_DIGITS - 1}}|\\d[eE][-+]?\\d`);

/** The body's text for messages (error bodies are small). */
export function bodyText(body: Buffer): string {
  const start = body.length > 2 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  return body.toString('utf8', start, body.length);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A page's logs, each parsed when it is asked for. */
export interface PageLogs {
  readonly length: number;
  /** Log i (0-based), parsed now: ask once per log. Throws a SyntaxError for invalid JSON. */
  at(i: number): unknown;
  /** Done with the logs: the body's buffer may be reused (see body.ts). */
  release(): void;
}

/** Logs already parsed (the slow path); `release` frees the body they came from. */
export function parsedLogs(logs: readonly unknown[], release: () => void): PageLogs {
  return { length: logs.length, at: (i) => logs[i], release };
}

/**
 * The fast path's split: the envelope parsed (its "logs" an empty array) and the logs as lazily
 * parsed slices of `b`, which must stay untouched until `release`. Undefined when the body must
 * go to JSON.parse whole.
 */
export function splitPage(b: Buffer, release: () => void): { envelope: Record<string, unknown>; logs: PageLogs } | undefined {
  if (b.length === 0 || b[0] === 0xef || !isUtf8(b)) return undefined;
  const found = findLogs(b);
  if (!found) return undefined;
  let envelope: Record<string, unknown>;
  try {
    envelope = JSON.parse(b.toString('utf8', 0, found.open + 1) + b.toString('utf8', found.close, b.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { spans, long } = found;
  return {
    envelope,
    logs: {
      length: spans.length >> 1,
      at: (i) => {
        const text = b.toString('utf8', spans[2 * i]!, spans[2 * i + 1]!);
        return long.size > 0 && long.has(i) ? parseExact(text) : JSON.parse(text);
      },
      release,
    },
  };
}

/** The fast path alone, every log parsed (exported for tests): undefined when it leaves the body to JSON.parse. */
export function fastParse(b: Buffer): unknown {
  const split = splitPage(b, () => undefined);
  if (!split) return undefined;
  try {
    const logs = new Array<unknown>(split.logs.length);
    for (let i = 0; i < logs.length; i++) logs[i] = split.logs.at(i);
    split.envelope.logs = logs;
    return split.envelope;
  } catch {
    return undefined;
  }
}

/**
 * Walks the top-level object's keys to the one "logs" array; returns the offsets of its '[' and
 * ']' and the [start, end) of each element, or undefined for anything unexpected.
 */
function findLogs(b: Buffer): { open: number; close: number; spans: number[]; long: Set<number> } | undefined {
  let i = ws(b, 0);
  if (b[i] !== 0x7b) return undefined; // {
  let found: { open: number; close: number; spans: number[]; long: Set<number> } | undefined;
  for (i = ws(b, i + 1); ; ) {
    if (b[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(b, i);
    if (keyEnd < 0) return undefined;
    const key = b.toString('latin1', i + 1, keyEnd);
    if (key.includes('\\')) return undefined;
    i = ws(b, keyEnd + 1);
    if (b[i] !== 0x3a) return undefined; // :
    i = ws(b, i + 1);
    if (key === 'logs') {
      if (found || b[i] !== 0x5b) return undefined; // [
      const spans: number[] = [];
      const long = new Set<number>();
      const close = elements(b, i, spans, long);
      if (close < 0) return undefined;
      found = { open: i, close, spans, long };
      i = close + 1;
    } else {
      i = valueEnd(b, i);
      if (i < 0) return undefined;
    }
    i = ws(b, i);
    if (b[i] === 0x2c) { i = ws(b, i + 1); continue; } // ,
    if (b[i] !== 0x7d) return undefined; // }
    return ws(b, i + 1) === b.length ? found : undefined;
  }
}

/**
 * Elements of the array opening at b[i]: objects only. Returns the index of its ']' or -1.
 * `long` gets the index of each element with a run of LONG_DIGITS digits outside its strings.
 */
function elements(b: Buffer, i: number, spans: number[], long: Set<number>): number {
  i = ws(b, i + 1);
  if (b[i] === 0x5d) return i;
  const digits = { long: false };
  for (;;) {
    if (b[i] !== 0x7b) return -1;
    digits.long = false;
    const end = matchClose(b, i, digits);
    if (end < 0) return -1;
    if (digits.long) long.add(spans.length >> 1);
    spans.push(i, end);
    i = ws(b, end);
    if (b[i] === 0x5d) return i;
    if (b[i] !== 0x2c) return -1;
    i = ws(b, i + 1);
  }
}

/** End (exclusive) of the value starting at b[i]; scalars end at the next delimiter. */
function valueEnd(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) {
    const e = stringEnd(b, i);
    return e < 0 ? -1 : e + 1;
  }
  if (c === 0x7b || c === 0x5b) return matchClose(b, i);
  while (i < b.length && b[i] !== 0x2c && b[i] !== 0x7d && b[i] !== 0x5d && b[i]! > 0x20) i++;
  return i;
}

/**
 * End (exclusive) of the object or array opening at b[i], counting brackets outside strings.
 * It does not check that they pair up: JSON.parse of the slice does. Sets `digits.long` when a
 * run of LONG_DIGITS digits or an exponent stands outside its strings (a number JSON.parse might
 * change).
 */
function matchClose(b: Buffer, i: number, digits?: { long: boolean }): number {
  let depth = 0;
  let run = 0;
  for (const n = b.length; i < n; i++) {
    const c = b[i]!;
    if (c >= 0x30 && c <= 0x39) {
      if (++run === LONG_DIGITS && digits) digits.long = true;
      continue;
    }
    if (c === 0x2e) continue; // a decimal point: 1234567890.123456 has 16 significant digits too
    // an exponent (a digit then e/E: true and false have none) may leave a double's range: 1e400
    if (run > 0 && (c === 0x65 || c === 0x45) && digits) digits.long = true;
    run = 0;
    if (c === QUOTE) {
      i = stringEnd(b, i);
      if (i < 0) return -1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}

/** Index of the quote closing the string that opens at b[i], or -1. */
function stringEnd(b: Buffer, i: number): number {
  for (;;) {
    // indexOf is native (memchr); a quote is escaped when an odd number of backslashes precede it
    const q = b.indexOf(QUOTE, i + 1);
    if (q < 0) return -1;
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    i = q;
  }
}

function ws(b: Buffer, i: number): number {
  for (let c = b[i]; c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = b[++i]);
  return i;
}
