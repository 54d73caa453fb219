import type { LogRecord } from '../types.js';

import { capChars, FFFD, fitPairs, fits, HEADER_MAX, headerFit, isAddress, numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, type Emit, type UniqueKeys } from './line.js';
import { isWord } from './cef.js';
import { LEEF_PREDEFINED_KEYS } from './leef-keys.js';
import { apiTimeMs, sameAsIso } from '../time.js';

/*
 * LEEF 2.0 for QRadar, as IBM's "Log Event Extended Format (LEEF)" guide defines it: header
 * `LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|`, then key=value attributes
 * "separated by tab or the delimiter character". The guide defines no escaping anywhere, so the
 * agent escapes nothing (a `\` is written as is) and keeps what would be syntax out instead:
 * - the delimiter is chosen per event: `^`, or when a value holds a `^` the first of
 *   LEEF_DELIMITERS that occurs in none of the event's values (keys are [A-Za-z0-9_], which no
 *   candidate is), declared in the header. Every candidate in the values (24 different
 *   punctuation characters in one event): `^` is declared and each `^` in a value is written as
 *   U+FFFD, and the event counts as truncated in the run summary (a value was altered);
 * - in values, LF and CR are written as the two characters `\n` and `\r` (a readable stand-in,
 *   not an escape: a literal `\n` in a value looks the same), every other C0 control, TAB too
 *   (the guide separates attributes on tabs), as U+FFFD (syslog-ng ends a message at a NUL);
 * - in the header, `|` and every C0 control become U+FFFD, and Version/EventID are capped at 128
 *   characters (the full activity_type is an attribute).
 */
export const LEEF_DELIMITERS = '^~`!#$%&*+;,/?@<>"(){}[]';
const DEFAULT_DELIMITER = '^';

const HEADER_SPECIAL = /[|\x00-\x1f]/;
const HEADER_SPECIAL_G = /[|\x00-\x1f]/g;
/** A header field: `|` and C0 controls as U+FFFD, capped before a surrogate pair, never through it. */
export function leefHeaderField(s: string): string {
  if (s.length <= HEADER_MAX && !HEADER_SPECIAL.test(s)) return s;
  return capChars(s.replace(HEADER_SPECIAL_G, FFFD), HEADER_MAX);
}

const CONTROL = /[\x00-\x1f]/;
const CONTROL_G = /[\x00-\x1f]/g;
const controlText = (c: string) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : FFFD);
/** A value's C0 controls as LEEF carries them (LF/CR as `\n`/`\r`, the rest as U+FFFD); nothing else changes. */
export function escapeLeefValue(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROL_G, controlText) : s;
}
// C0 controls and `^`, written as what may stay (V8 tests a negated class faster, as in cef.ts):
// the fast path's one test per value. Non-global: no lastIndex.
const FAST_TEST = /[^\x20-\x5d\x5f-\uffff]/;

/** The event's delimiter: the first candidate in none of the values, '' when every one is in some value. */
export function leefDelimiter(values: readonly string[]): string {
  if (!values.some((v) => v.includes(DEFAULT_DELIMITER))) return DEFAULT_DELIMITER;
  const seen = new Uint8Array(128);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    for (let j = 0; j < v.length; j++) {
      const c = v.charCodeAt(j);
      if (c < 128) seen[c] = 1;
    }
  }
  for (let k = 0; k < LEEF_DELIMITERS.length; k++) if (seen[LEEF_DELIMITERS.charCodeAt(k)] === 0) return LEEF_DELIMITERS[k]!;
  return '';
}

export const LEEF_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

/*
 * Fields under a LEEF key of their own, written right after the fixed keys: the keys are theirs
 * alone, whatever the record's field order (a field named `src` is src_2). `host` goes to `src`
 * (LEEF type ip_address) only when it is an IP address, else to `srcHostName` (not a predefined
 * key). Objects walked by index, as cef.ts's lists: no destructuring through the iterator
 * protocol on the hot path.
 */
const RENAMED: readonly { field: string; key: string; keep: boolean }[] = [
  { field: '_id', key: 'externalId', keep: true },
  { field: 'user', key: 'usrName', keep: false },
  { field: 'host', key: 'src', keep: false },
];
const HOST_NAME_KEY = 'srcHostName';
const WRITTEN = new Set(['created_timestamp', ...RENAMED.map((m) => m.field)]);
/**
 * Keys no record field may take: those written before a record's other fields, and every LEEF
 * predefined key ("A user-defined key cannot use the same name as a LEEF predefined key").
 */
const TAKEN = [...new Set(['devTime', 'devTimeFormat', 'sev', 'cat', ...RENAMED.map((m) => m.key), HOST_NAME_KEY, ...LEEF_PREDEFINED_KEYS])];
const TAKEN_SET = new Set(TAKEN);

/** A field's key when it cannot clash with another (a clean name), else ''. */
const plainKey = perName((field) => (safeKey(field) === field && !TAKEN_SET.has(field) ? field : ''));

const LEEF_KEYS: UniqueKeys = { plainKey, baseKey: safeKey, taken: TAKEN, skip: (field) => WRITTEN.has(field) };
/** The same, with created_timestamp among the record's other fields (when it says more than devTime). */
const LEEF_KEYS_TIME: UniqueKeys = { ...LEEF_KEYS, skip: (field) => field !== 'created_timestamp' && WRITTEN.has(field) };

/** Walks a record's LEEF attributes in line order; shared by the fast path and the truncating one. */
function leefFields(r: LogRecord, ctx: FormatContext, emit: Emit): void {
  const ms = apiTimeMs(r.created_timestamp);
  emit('devTime', new Date(ms).toISOString(), true);
  emit('devTimeFormat', LEEF_TIME_FORMAT, true);
  emit('sev', String(numericSeverity(r.severity)), true);
  emit('cat', ctx.app, true);
  for (let i = 0; i < RENAMED.length; i++) {
    const m = RENAMED[i]!;
    const v = r[m.field];
    if (v === undefined && !Object.hasOwn(r, m.field)) continue;
    const value = text(v);
    emit(m.key === 'src' && !isAddress(value) ? HOST_NAME_KEY : m.key, value, m.keep);
  }
  // devTime holds milliseconds: a created_timestamp that says more (microseconds, its zone) is
  // also carried as it came
  emitUnique(r, Object.keys(r), sameAsIso(r.created_timestamp, ms) ? LEEF_KEYS : LEEF_KEYS_TIME, emit);
}

export function leefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  const out: Pair[] = [];
  leefFields(r, ctx, (key, value, keep) => out.push({ key, value, keep }));
  return out;
}

/** "^key=" per key, for the usual event. */
const prefix = perName((key) => `${DEFAULT_DELIMITER}${key}=`);

/*
 * line.ts's keyValueFormat with the separator chosen per line. The fast path is the usual event
 * (no `^` in any value, no longer than ctx.maxBytes): one test per value, as keyValueFormat, and
 * one join. An event with a `^` in a value, or too long, takes the per-field pairs: the delimiter
 * is chosen from the values as rendered, so a shortened line declares one absent from its
 * shortened values (a `^` cut away gives the line `^` back).
 */
export function formatLeef(r: LogRecord, ctx: FormatContext): string {
  const eventId = isWord(r.activity_type) ? r.activity_type : ctx.app;
  const head = `LEEF:2.0|Symantec|CloudSOC|${leefHeaderField(ctx.version)}|${leefHeaderField(headerFit(eventId, ctx.maxBytes, HEADER_SPECIAL.test(eventId) ? 3 : 1))}|`;
  const parts: string[] = [`${head}${DEFAULT_DELIMITER}|`];
  let caret = false;
  leefFields(r, ctx, (key, value) => {
    if (caret) return;
    let v = value;
    if (FAST_TEST.test(v)) {
      if (v.includes(DEFAULT_DELIMITER)) {
        caret = true;
        return;
      }
      v = v.replace(CONTROL_G, controlText);
    }
    parts.push(parts.length === 1 ? `${key}=` : prefix(key), v);
  });
  if (!caret) {
    const line = parts.join('');
    if (fits(line, ctx.maxBytes)) return line;
  }
  let lossy = false;
  const render = (ps: Pair[]): string => {
    let d = leefDelimiter(ps.map((p) => p.value));
    lossy = d === '';
    if (lossy) d = DEFAULT_DELIMITER;
    const attrs = ps.map((p) => {
      const v = escapeLeefValue(p.value);
      return `${p.key}=${lossy ? v.replaceAll(d, FFFD) : v}`;
    });
    return `${head}${d}|${attrs.join(d)}`;
  };
  // counted once per event, whether shortened, its delimiter replaced, or both
  let counted = false;
  const count = () => {
    if (!counted) ctx.onTruncate?.();
    counted = true;
  };
  const line = fitPairs(leefPairs(r, ctx), render, { ...ctx, onTruncate: count });
  if (lossy) count();
  return line;
}
