import type { LogRecord } from '../types.js';
import { isExact } from '../exact-numbers.js';
import { capChars, FFFD, HEADER_MAX, headerFit, isAddress, numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, keyValueFormat, type Emit, type UniqueKeys } from './line.js';
import { apiTimeMs, sameAsIso } from '../time.js';

/*
 * CEF as ArcSight's "Implementing ArcSight CEF" defines it. Header: `\` and `|` escaped.
 * Extension: `\`, `=` escaped, CR/LF written as \r and \n, so no value can end a line or
 * start a key of its own. Header values are capped (their full text is in the extension).
 * Other C0 controls but TAB become U+FFFD in both: syslog-ng ends a message at a NUL, so a
 * NUL in a value would split one event into two, the second one forged by the value.
 */

// C0 controls but TAB, in the header and in values (LF and CR among them)
const HEADER_SPECIAL = /[\\|\x00-\x08\x0a-\x1f]/;
const HEADER_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
export function escapeCefHeader(s: string): string {
  // most header values need nothing: one test instead of a replace that copies every value
  if (s.length <= HEADER_MAX && !HEADER_SPECIAL.test(s)) return s;
  let capped = s.replace(/[\r\n]+/g, ' ').replace(HEADER_CONTROL, FFFD);
  capped = capChars(capped, HEADER_MAX);
  return /[\\|]/.test(capped) ? capped.replace(/[\\|]/g, (c) => `\\${c}`) : capped;
}

const EXT_ESC: Record<string, string> = { '\\': '\\\\', '=': '\\=', '\n': '\\n', '\r': '\\r' };
const EXT_RE = /[\\=\x00-\x08\x0a-\x1f]/g;
// EXT_RE's complement written as what may stay: V8 tests this negated class faster (per 1,000
// logs, 0.82-0.91 ms against 0.95-1.4 ms), and it runs on every value. Non-global: no lastIndex.
const EXT_TEST = /[^\t\x20-\x3c\x3e-\x5b\x5d-\uffff]/;
export function escapeCefValue(s: string): string {
  return EXT_TEST.test(s) ? s.replace(EXT_RE, (c) => EXT_ESC[c] ?? FFFD) : s;
}

/*
 * The mapped fields as objects walked by index: `for (const [field, key] of LIST)` destructures
 * through the iterator protocol, which V8's optimising compiler inlined into a graph that took
 * 30-45 ms of background CPU per compile (compiled twice per run).
 */
/*
 * Each standard key has a type and a length in ArcSight's CEF dictionary; a value that does not
 * fit is not written there as it is (a connector, or Elastic's decode_cef, drops or cuts it): a
 * value of another type goes to `ad.<field>` (`check`), a string the key would cut is written
 * capped (ending in …) with its full text also in `ad.<field>` (`max`, in characters), and a
 * string `host` that is not an IP address goes to `orKey` (shost) instead of src.
 */
interface Mapped { field: string; key: string; check?: (v: unknown) => boolean; max: number; orKey?: string }
interface Labelled extends Mapped { label: string; labelKey: string }
const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
// CEF "Integer" (fsize) is 32 bits and "Long" (cn1) 64: a larger number is no value of theirs
// (Elastic parses them with ParseInt(v, 0, 32/64)); safe integers only, so String(v) has no exponent
const int32 = (v: unknown) => Number.isInteger(v) && (v as number) >= -2_147_483_648 && (v as number) <= 2_147_483_647;
const long = (v: unknown) => Number.isSafeInteger(v);
// every entry built alike, so the walk sees one object shape
const std = (field: string, key: string, max: number, check?: (v: unknown) => boolean, orKey?: string): Mapped => ({ field, key, check, max, orKey });
const custom = (field: string, key: string, label: string, check?: (v: unknown) => boolean): Labelled => ({ field, key, check, max: 4000, orKey: undefined, label, labelKey: `${key}Label` });
/** Record fields with a standard CEF key. Order here is the order in the line. */
const STANDARD: readonly Mapped[] = [
  std('message', 'msg', 1023),
  std('user', 'suser', 1023),
  std('host', 'src', 0, (v) => typeof v === 'string' && isAddress(v), 'shost'),
  std('service', 'destinationServiceName', 1023),
  std('activity_type', 'act', 63),
  std('user_agent', 'requestClientApplication', 1023),
  std('resource_id', 'fileId', 1023),
  std('file_size', 'fsize', 0, int32),
  std('latitude', 'slat', 0, finite),
  std('longitude', 'slong', 0, finite),
];
/** CloudSOC fields without a standard key go to labelled custom strings (cs1-cs6: 4,000 characters). */
const CUSTOM: readonly Labelled[] = [
  custom('object_type', 'cs1', 'objectType'),
  custom('name', 'cs2', 'logName'),
  custom('severity', 'cs3', 'severity'),
  custom('policy_violated', 'cs4', 'policyViolated'),
  custom('incident_id', 'cs5', 'incidentId'),
  custom('user_name', 'cs6', 'userName'),
  custom('threat_score', 'cn1', 'threatScore', long),
];
/** externalId: 40 characters (API ids are 24). shost: 1023. */
const EXTERNAL_ID_MAX = 40;
const SHOST_MAX = 1023;

const MAPPED = new Set(['_id', 'created_timestamp', ...STANDARD.map((m) => m.field), ...CUSTOM.map((m) => m.field)]);

/** `ad.<field>` for a field name that needs no cleaning, '' for one that does. */
const plainAdKey = perName((field) => (safeKey(field) === field ? `ad.${field}` : ''));

const adBase = (field: string) => `ad.${safeKey(field)}`;
// the id and the time as sent, when they go to ad.* (an id over externalId's 40 characters, a time
// rt cannot hold), are never shortened, as externalId and rt are not
const AD_KEYS: UniqueKeys = { plainKey: plainAdKey, baseKey: adBase, keep: (field) => field === '_id' || field === 'created_timestamp' };
const AD_KEYS_UNMAPPED: UniqueKeys = { plainKey: plainAdKey, baseKey: adBase, skip: (field) => MAPPED.has(field) };

/** Walks a record's CEF fields in line order; shared by the fast path and the truncating one. */
function cefFields(r: LogRecord, ctx: FormatContext, emit: Emit): void {
  let leftovers: string[] | undefined;
  if (r._id.length <= EXTERNAL_ID_MAX) emit('externalId', r._id, true);
  else {
    emit('externalId', capChars(r._id, EXTERNAL_ID_MAX), true);
    (leftovers ??= []).push('_id');
  }
  const ms = apiTimeMs(r.created_timestamp);
  emit('rt', String(ms), true);
  // rt holds milliseconds: a created_timestamp that says more (microseconds, its zone) is also
  // carried as it came, as ad.created_timestamp
  const time = sameAsIso(r.created_timestamp, ms) ? undefined : 'created_timestamp';
  for (let i = 0; i < STANDARD.length; i++) {
    const m = STANDARD[i]!;
    const v = r[m.field];
    if (v === undefined && !Object.hasOwn(r, m.field)) continue;
    if (m.check && !m.check(v)) {
      if (!(m.orKey && isWord(v)) || emitCapped(emit, m.orKey, v, SHOST_MAX)) (leftovers ??= []).push(m.field);
    } else if (m.max === 0) emit(m.key, text(v), false);
    else if (emitCapped(emit, m.key, text(v), m.max)) (leftovers ??= []).push(m.field);
  }
  for (let i = 0; i < CUSTOM.length; i++) {
    const m = CUSTOM[i]!;
    const v = r[m.field];
    if (v === undefined && !Object.hasOwn(r, m.field)) continue;
    if (m.check && !m.check(v)) {
      (leftovers ??= []).push(m.field);
      continue;
    }
    if (emitCapped(emit, m.key, text(v), m.max)) (leftovers ??= []).push(m.field);
    emit(m.labelKey, m.label, true);
  }
  // then mapped fields whose values did not fit their key and every other field, unknown ones
  // too, as ArcSight "additional data" keys: nothing is dropped
  if (leftovers || time) {
    leftovers ??= [];
    for (const field of Object.keys(r)) if (!MAPPED.has(field) || field === time) leftovers.push(field);
    emitUnique(r, leftovers, AD_KEYS, emit);
  } else {
    emitUnique(r, Object.keys(r), AD_KEYS_UNMAPPED, emit);
  }
  // last, a value that cannot end in spaces: ArcSight does not keep trailing spaces of the
  // final pair ("ensure ... any value with trailing spaces is not the final value")
  emit('cat', ctx.app, true);
}

/** Emits the value capped to `max` characters; true when it was (its full text then goes to ad.*). */
function emitCapped(emit: Emit, key: string, value: string, max: number): boolean {
  if (value.length <= max) {
    emit(key, value, false);
    return false;
  }
  emit(key, capChars(value, max), false);
  return true;
}

/** A non-empty string from the API (a long number kept as a string is not one: exact-numbers.ts). */
export const isWord = (v: unknown): v is string => typeof v === 'string' && v !== '' && !isExact(v);

export function cefHeader(r: LogRecord, ctx: FormatContext): string {
  const sigId = isWord(r.activity_type) ? r.activity_type : ctx.app;
  const name = isWord(r.name) ? r.name : `${ctx.app} ${sigId}`;
  return `CEF:0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(fit(sigId, ctx))}|${escapeCefHeader(fit(name, ctx))}|${numericSeverity(r.severity)}|`;
}

/** headerFit (fields.ts), with room for what escaping makes of the text (see escapeCefHeader). */
function fit(s: string, ctx: FormatContext): string {
  return ctx.maxBytes > 0 ? headerFit(s, ctx.maxBytes, /[\x00-\x08\x0a-\x1f]/.test(s) ? 3 : /[\\|]/.test(s) ? 2 : 1) : s;
}

const CEF = keyValueFormat(' ', escapeCefValue, cefFields);

export function cefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  return CEF.pairs(r, ctx);
}

export function formatCef(r: LogRecord, ctx: FormatContext): string {
  return CEF.line(cefHeader(r, ctx), r, ctx);
}
