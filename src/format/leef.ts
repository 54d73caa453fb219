import type { LogRecord } from '../types.js';
import { numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, keyValueFormat, type Emit, type UniqueKeys } from './line.js';
import { escapeCefHeader } from './cef.js';

/*
 * LEEF 2.0 for QRadar. The delimiter is `^` (declared in the header): a tab would be mangled
 * by rsyslog's default control-character escaping (#011) on the way to QRadar.
 * LEEF defines no value escaping; ours (documented in the README): `\` → `\\`, `^` → `\^`,
 * LF → `\n`, CR → `\r`. So no value can end the line or start an attribute.
 */
export const LEEF_DELIMITER = '^';
const ESC: Record<string, string> = { '\\': '\\\\', '^': '\\^', '\n': '\\n', '\r': '\\r' };
const RE = /[\\^\r\n]/g;
const TEST = /[\\^\r\n]/; // non-global: test() without lastIndex bookkeeping
export function escapeLeefValue(s: string): string {
  return TEST.test(s) ? s.replace(RE, (c) => ESC[c]!) : s;
}

export const LEEF_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

const RENAMED = new Map([['_id', 'externalId'], ['user', 'usrName'], ['host', 'src']]);
const FIXED = ['devTime', 'devTimeFormat', 'sev', 'cat'];
/** Keys a field name could clash with: the fixed ones and the renamed ones. */
const TAKEN = new Set([...FIXED, ...RENAMED.values()]);

/** A field's key when it cannot clash with another (a clean name, or a renamed one), else ''. */
const plainKey = perName((field) => RENAMED.get(field) ?? (safeKey(field) === field && !TAKEN.has(field) ? field : ''));

const LEEF_KEYS: UniqueKeys = {
  plainKey,
  baseKey: (field) => RENAMED.get(field) ?? safeKey(field),
  taken: FIXED,
  skip: (field) => field === 'created_timestamp',
  keep: (field) => field === '_id',
};

/** Walks a record's LEEF attributes in line order; shared by the fast path and the truncating one. */
function leefFields(r: LogRecord, ctx: FormatContext, emit: Emit): void {
  emit('devTime', new Date(Date.parse(r.created_timestamp)).toISOString(), true);
  emit('devTimeFormat', LEEF_TIME_FORMAT, true);
  emit('sev', String(numericSeverity(r.severity)), true);
  emit('cat', ctx.app, true);
  emitUnique(r, Object.keys(r), LEEF_KEYS, emit);
}

const LEEF = keyValueFormat(LEEF_DELIMITER, escapeLeefValue, leefFields);

export function leefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  return LEEF.pairs(r, ctx);
}

export function formatLeef(r: LogRecord, ctx: FormatContext): string {
  const eventId = typeof r.activity_type === 'string' && r.activity_type !== '' ? r.activity_type : ctx.app;
  return LEEF.line(`LEEF:2.0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(eventId)}|${LEEF_DELIMITER}|`, r, ctx);
}
