import { isIP } from 'node:net';
import { unmark, unmarkJson } from '../exact-numbers.js';
import type { LogRecord } from '../types.js';

export interface FormatContext {
  app: string;  // Investigate, Detect, or siem-agent for the heartbeat
  version: string;
  /** Largest formatted line in UTF-8 bytes; 0 = unlimited. */
  maxBytes: number;
  /** Called once per record whose values had to be shortened. */
  onTruncate?: () => void;
}

export type Format = (record: LogRecord, ctx: FormatContext) => string;

/** A value as text: strings unchanged, numbers/booleans as JSON, null as empty, objects/arrays as compact JSON. */
export function text(v: unknown): string {
  if (typeof v === 'string') return v.charCodeAt(0) === 0xe000 ? unmark(v) : v; // see exact-numbers.ts
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return unmarkJson(JSON.stringify(v));
  return String(v);
}

/**
 * Remembers f's answer per name: field names repeat on every line, and a page has few distinct
 * ones. At most 10,000 are kept, so records with random field names cannot grow memory.
 */
export function perName(f: (name: string) => string): (name: string) => string {
  const cache = new Map<string, string>();
  return (name) => {
    let v = cache.get(name);
    if (v === undefined) {
      v = f(name);
      if (cache.size < 10_000) cache.set(name, v);
    }
    return v;
  };
}

/** Field names become keys of [A-Za-z0-9_] only, so no name can forge syntax. */
export const safeKey = perName((name) => name.replace(/[^A-Za-z0-9_]/g, '_') || '_');

// a Map, not an object literal: a field value like "constructor" must not find Object.prototype
const SEV_CEF = new Map<string, number>([
  ['informational', 3], ['warning', 5], ['error', 7], ['critical', 10],
  ['low', 3], ['medium', 6], ['high', 8],
]);

/** CEF/LEEF 0–10 severity from the API's words (case-insensitive); unknown words → 5. */
export function numericSeverity(sev: unknown): number {
  return typeof sev === 'string' ? SEV_CEF.get(sev.toLowerCase()) ?? 5 : 5;
}

/** Syslog severity (RFC 5424 0–7) from the API's words, for the syslog PRI. */
export function syslogSeverity(sev: unknown): number {
  switch (typeof sev === 'string' ? sev.toLowerCase() : '') {
    case 'critical': return 2;
    case 'error': case 'high': return 3;
    case 'warning': case 'medium': return 4;
    case 'low': return 5;
    case 'informational': return 6;
    default: return 5;
  }
}

export const ELLIPSIS = '…';
const ELLIPSIS_BYTES = 3;

/**
 * Shortens a value to at most `bytes` UTF-8 bytes (ellipsis included), never splitting a
 * character: the documented truncation is "prefix of the value followed by …". Counted on the
 * string itself, not through a Buffer: a value may carry a lone surrogate (JSON keeps it as
 * \ud800), which a round trip would turn into U+FFFD and the cut would no longer be a prefix.
 */
export function cutUtf8(value: string, bytes: number): string {
  if (bytes <= ELLIPSIS_BYTES) return ELLIPSIS;
  const room = bytes - ELLIPSIS_BYTES;
  let used = 0;
  let end = 0;
  while (end < value.length) {
    const c = value.charCodeAt(end);
    let units = 1;
    let size = 3; // the rest of the BMP, and a lone surrogate (written as U+FFFD)
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(end + 1); // NaN past the end
      if (next >= 0xdc00 && next <= 0xdfff) {
        units = 2;
        size = 4;
      }
    }
    if (used + size > room) break;
    used += size;
    end += units;
  }
  return value.slice(0, end) + ELLIPSIS;
}

/** Whether a line fits ctx.maxBytes (0: no limit); most lines are told by their length alone. */
export function fits(line: string, maxBytes: number): boolean {
  return maxBytes <= 0 || line.length <= maxBytes / 3 || Buffer.byteLength(line, 'utf8') <= maxBytes;
}

export interface Pair {
  key: string;
  value: string;     // raw text, escaped by the format
  keep?: boolean;    // never truncated (externalId, rt)
}

/**
 * Builds a line from pairs and shortens the longest non-kept values until the line fits.
 * `render` turns pairs into the full line (header included).
 */
export function fitPairs(pairs: Pair[], render: (p: Pair[]) => string, ctx: FormatContext): string {
  let line = render(pairs);
  if (ctx.maxBytes <= 0) return line;
  let size = Buffer.byteLength(line, 'utf8');
  if (size <= ctx.maxBytes) return line;
  ctx.onTruncate?.();
  for (let guard = 0; size > ctx.maxBytes && guard < pairs.length * 4; guard++) {
    let longest = -1;
    let longestBytes = 0;
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i]!;
      if (p.keep) continue;
      const b = Buffer.byteLength(p.value, 'utf8');
      if (b > longestBytes) {
        longest = i;
        longestBytes = b;
      }
    }
    if (longest < 0 || longestBytes <= ELLIPSIS_BYTES) break;
    const over = size - ctx.maxBytes;
    // escaping can grow a value up to 2x, so cut at least what is over, and at least half as a floor on progress
    const target = Math.max(0, Math.min(longestBytes - over, longestBytes - 1));
    pairs[longest] = { key: pairs[longest]!.key, value: cutUtf8(pairs[longest]!.value, target) };
    line = render(pairs);
    size = Buffer.byteLength(line, 'utf8');
  }
  return line;
}

/**
 * An IP address a SIEM's address key (CEF and LEEF `src`) takes: IPv4 or IPv6, without an IPv6
 * zone (`fe80::1%eth0`, which Node accepts and ArcSight/QRadar do not).
 */
export function isAddress(v: string): boolean {
  return isIP(v) !== 0 && !v.includes('%');
}

export const FFFD = '\ufffd';
/** Free-text header fields (CEF's signature id and name, LEEF's event id): at most this many characters. */
export const HEADER_MAX = 128;

/** `s` cut to `max` characters, ending in …, never through a surrogate pair (a lone half reaches the wire as U+FFFD). */
export function capChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const high = s.charCodeAt(max - 2);
  return `${s.slice(0, high >= 0xd800 && high <= 0xdbff ? max - 2 : max - 1)}…`;
}

/**
 * A header is never shortened by --max_message_size (only the values after it are), so a
 * free-text header field also gets at most a quarter of it in bytes: 128 characters of CJK are
 * ~384 bytes each, which alone could pass a small limit. `growth`: how much the format's escaping
 * can make of a byte of this text (CEF's `\\`: 2; a control character or LEEF's `|` as U+FFFD: 3).
 * No change at the ~8,000-byte syslog default.
 */
export function headerFit(s: string, maxBytes: number, growth = 1): string {
  const room = maxBytes > 0 ? Math.floor((maxBytes >> 2) / growth) : 0;
  if (maxBytes <= 0 || s.length * 3 <= room || Buffer.byteLength(s, 'utf8') <= room) return s;
  return cutUtf8(s, room);
}
