import type { LogRecord } from '../types.js';

import { numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, keyValueFormat, type Emit, type UniqueKeys } from './line.js';
import { escapeCefHeader, isWord } from './cef.js';
import { apiTimeMs, sameAsIso } from '../time.js';

/*
 * LEEF 2.0 for QRadar. The delimiter is `^` (declared in the header): a tab would be mangled
 * by rsyslog's default control-character escaping (#011) on the way to QRadar.
 * LEEF defines no value escaping; ours (documented in the README): `\` → `\\`, `^` → `\^`,
 * LF → `\n`, CR → `\r`, other C0 controls but TAB → U+FFFD (as CEF: syslog-ng ends a message
 * at a NUL). So no value can end the line or start an attribute.
 */
export const LEEF_DELIMITER = '^';
const ESC: Record<string, string> = { '\\': '\\\\', '^': '\\^', '\n': '\\n', '\r': '\\r' };
const RE = /[\\^\x00-\x08\x0a-\x1f]/g;
// RE's complement written as what may stay (faster, as in cef.ts); non-global: no lastIndex
const TEST = /[^\t\x20-\x5b\x5d\x5f-\uffff]/;
export function escapeLeefValue(s: string): string {
  return TEST.test(s) ? s.replace(RE, (c) => ESC[c] ?? '\ufffd') : s;
}

export const LEEF_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

/*
 * Fields under a LEEF key of their own, written right after the fixed keys: the keys are theirs
 * alone, whatever the record's field order (a field named `src` is src_2). Objects walked by
 * index, as cef.ts's lists: no destructuring through the iterator protocol on the hot path.
 */
const RENAMED: readonly { field: string; key: string; keep: boolean }[] = [
  { field: '_id', key: 'externalId', keep: true },
  { field: 'user', key: 'usrName', keep: false },
  { field: 'host', key: 'src', keep: false },
];
const WRITTEN = new Set(['created_timestamp', ...RENAMED.map((m) => m.field)]);
/** Keys written before a record's other fields. */
const TAKEN = ['devTime', 'devTimeFormat', 'sev', 'cat', ...RENAMED.map((m) => m.key)];
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
    if (v !== undefined || Object.hasOwn(r, m.field)) emit(m.key, text(v), m.keep);
  }
  // devTime holds milliseconds: a created_timestamp that says more (microseconds, its zone) is
  // also carried as it came
  emitUnique(r, Object.keys(r), sameAsIso(r.created_timestamp, ms) ? LEEF_KEYS : LEEF_KEYS_TIME, emit);
}

const LEEF = keyValueFormat(LEEF_DELIMITER, escapeLeefValue, leefFields);

export function leefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  return LEEF.pairs(r, ctx);
}

export function formatLeef(r: LogRecord, ctx: FormatContext): string {
  const eventId = isWord(r.activity_type) ? r.activity_type : ctx.app;
  return LEEF.line(`LEEF:2.0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(eventId)}|${LEEF_DELIMITER}|`, r, ctx);
}
