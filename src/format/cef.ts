import type { LogRecord } from '../types.js';
import { isExact } from '../exact-numbers.js';
import { numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, keyValueFormat, type Emit, type UniqueKeys } from './line.js';
import { apiTimeMs, sameAsIso } from '../time.js';

/*
 * CEF as ArcSight's "Implementing ArcSight CEF" defines it. Header: `\` and `|` escaped.
 * Extension: `\`, `=` escaped, CR/LF written as \r and \n, so no value can end a line or
 * start a key of its own. Header values are capped (their full text is in the extension).
 * Other C0 controls but TAB become U+FFFD in both: syslog-ng ends a message at a NUL, so a
 * NUL in a value would split one event into two, the second one forged by the value.
 */
const HEADER_MAX = 128;
const FFFD = '\ufffd';

// C0 controls but TAB, in the header and in values (LF and CR among them)
const HEADER_SPECIAL = /[\\|\x00-\x08\x0a-\x1f]/;
const HEADER_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
export function escapeCefHeader(s: string): string {
  // most header values need nothing: one test instead of a replace that copies every value
  if (s.length <= HEADER_MAX && !HEADER_SPECIAL.test(s)) return s;
  let capped = s.replace(/[\r\n]+/g, ' ').replace(HEADER_CONTROL, FFFD);
  if (capped.length > HEADER_MAX) {
    // cut before a surrogate pair, not through it: a lone half reaches the wire as U+FFFD
    const high = capped.charCodeAt(HEADER_MAX - 2);
    capped = `${capped.slice(0, high >= 0xd800 && high <= 0xdbff ? HEADER_MAX - 2 : HEADER_MAX - 1)}…`;
  }
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
interface Mapped { field: string; key: string; check?: (v: unknown) => boolean }
interface Labelled extends Mapped { label: string; labelKey: string }
const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
// every entry built alike, so the walk sees one object shape
const std = (field: string, key: string, check?: (v: unknown) => boolean): Mapped => ({ field, key, check });
const custom = (field: string, key: string, label: string, check?: (v: unknown) => boolean): Labelled => ({ field, key, check, label, labelKey: `${key}Label` });
/** Record fields with a standard CEF key. Order here is the order in the line. */
const STANDARD: readonly Mapped[] = [
  std('message', 'msg'),
  std('user', 'suser'),
  std('host', 'src'),
  std('service', 'destinationServiceName'),
  std('activity_type', 'act'),
  std('user_agent', 'requestClientApplication'),
  std('resource_id', 'fileId'),
  std('file_size', 'fsize', Number.isInteger),
  std('latitude', 'slat', finite),
  std('longitude', 'slong', finite),
];
/** CloudSOC fields without a standard key go to labelled custom strings. */
const CUSTOM: readonly Labelled[] = [
  custom('object_type', 'cs1', 'objectType'),
  custom('name', 'cs2', 'logName'),
  custom('severity', 'cs3', 'severity'),
  custom('policy_violated', 'cs4', 'policyViolated'),
  custom('incident_id', 'cs5', 'incidentId'),
  custom('user_name', 'cs6', 'userName'),
  custom('threat_score', 'cn1', 'threatScore', Number.isInteger),
];
const MAPPED = new Set(['_id', 'created_timestamp', ...STANDARD.map((m) => m.field), ...CUSTOM.map((m) => m.field)]);

/** `ad.<field>` for a field name that needs no cleaning, '' for one that does. */
const plainAdKey = perName((field) => (safeKey(field) === field ? `ad.${field}` : ''));

const AD_KEYS: UniqueKeys = { plainKey: plainAdKey, baseKey: (field) => `ad.${safeKey(field)}` };
const AD_KEYS_UNMAPPED: UniqueKeys = { ...AD_KEYS, skip: (field) => MAPPED.has(field) };

/** Walks a record's CEF fields in line order; shared by the fast path and the truncating one. */
function cefFields(r: LogRecord, ctx: FormatContext, emit: Emit): void {
  emit('externalId', r._id, true);
  const ms = apiTimeMs(r.created_timestamp);
  emit('rt', String(ms), true);
  // rt holds milliseconds: a created_timestamp that says more (microseconds, its zone) is also
  // carried as it came, as ad.created_timestamp
  const time = sameAsIso(r.created_timestamp, ms) ? undefined : 'created_timestamp';
  emit('cat', ctx.app, true);
  let leftovers: string[] | undefined;
  for (let i = 0; i < STANDARD.length; i++) {
    const m = STANDARD[i]!;
    const v = r[m.field];
    if (v === undefined && !Object.hasOwn(r, m.field)) continue;
    if (m.check && !m.check(v)) (leftovers ??= []).push(m.field);
    else emit(m.key, text(v), false);
  }
  for (let i = 0; i < CUSTOM.length; i++) {
    const m = CUSTOM[i]!;
    const v = r[m.field];
    if (v === undefined && !Object.hasOwn(r, m.field)) continue;
    if (m.check && !m.check(v)) {
      (leftovers ??= []).push(m.field);
      continue;
    }
    emit(m.key, text(v), false);
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
}

/** A non-empty string from the API (a long number kept as a string is not one: exact-numbers.ts). */
export const isWord = (v: unknown): v is string => typeof v === 'string' && v !== '' && !isExact(v);

export function cefHeader(r: LogRecord, ctx: FormatContext): string {
  const sigId = isWord(r.activity_type) ? r.activity_type : ctx.app;
  const name = isWord(r.name) ? r.name : `${ctx.app} ${sigId}`;
  return `CEF:0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(sigId)}|${escapeCefHeader(name)}|${numericSeverity(r.severity)}|`;
}

const CEF = keyValueFormat(' ', escapeCefValue, cefFields);

export function cefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  return CEF.pairs(r, ctx);
}

export function formatCef(r: LogRecord, ctx: FormatContext): string {
  return CEF.line(cefHeader(r, ctx), r, ctx);
}
