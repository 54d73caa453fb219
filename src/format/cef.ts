import type { LogRecord } from '../types.js';
import { numericSeverity, perName, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { emitUnique, keyValueFormat, type Emit, type UniqueKeys } from './line.js';

/*
 * CEF as ArcSight's "Implementing ArcSight CEF" defines it. Header: `\` and `|` escaped.
 * Extension: `\`, `=` escaped, CR/LF written as \r and \n, so no value can end a line or
 * start a key of its own. Header values are capped (their full text is in the extension).
 */
const HEADER_MAX = 128;

const HEADER_SPECIAL = /[\\|\r\n]/;
export function escapeCefHeader(s: string): string {
  // most header values need nothing: one test instead of a replace that copies every value
  if (s.length <= HEADER_MAX && !HEADER_SPECIAL.test(s)) return s;
  const one = s.replace(/[\r\n]+/g, ' ');
  const capped = one.length > HEADER_MAX ? `${one.slice(0, HEADER_MAX - 1)}…` : one;
  return /[\\|]/.test(capped) ? capped.replace(/[\\|]/g, (c) => `\\${c}`) : capped;
}

const EXT_ESC: Record<string, string> = { '\\': '\\\\', '=': '\\=', '\n': '\\n', '\r': '\\r' };
const EXT_RE = /[\\=\r\n]/g;
const EXT_TEST = /[\\=\r\n]/; // non-global: test() without lastIndex bookkeeping
export function escapeCefValue(s: string): string {
  return EXT_TEST.test(s) ? s.replace(EXT_RE, (c) => EXT_ESC[c]!) : s;
}

/** Record fields with a standard CEF key. Order here is the order in the line. */
const STANDARD: ReadonlyArray<[field: string, key: string, check?: (v: unknown) => boolean]> = [
  ['message', 'msg'],
  ['user', 'suser'],
  ['host', 'src'],
  ['service', 'destinationServiceName'],
  ['activity_type', 'act'],
  ['user_agent', 'requestClientApplication'],
  ['resource_id', 'fileId'],
  ['file_size', 'fsize', Number.isInteger],
  ['latitude', 'slat', (v) => typeof v === 'number' && Number.isFinite(v)],
  ['longitude', 'slong', (v) => typeof v === 'number' && Number.isFinite(v)],
];
/** CloudSOC fields without a standard key go to labelled custom strings. */
const CUSTOM: ReadonlyArray<[field: string, key: string, label: string, check?: (v: unknown) => boolean]> = [
  ['object_type', 'cs1', 'objectType'],
  ['name', 'cs2', 'logName'],
  ['severity', 'cs3', 'severity'],
  ['policy_violated', 'cs4', 'policyViolated'],
  ['incident_id', 'cs5', 'incidentId'],
  ['user_name', 'cs6', 'userName'],
  ['threat_score', 'cn1', 'threatScore', Number.isInteger],
];
const LABEL_KEYS = new Map(CUSTOM.map(([, key]) => [key, `${key}Label`]));
const MAPPED = new Set(['_id', 'created_timestamp', ...STANDARD.map((s) => s[0]), ...CUSTOM.map((c) => c[0])]);

/** `ad.<field>` for a field name that needs no cleaning, '' for one that does. */
const plainAdKey = perName((field) => (safeKey(field) === field ? `ad.${field}` : ''));

const AD_KEYS: UniqueKeys = { plainKey: plainAdKey, baseKey: (field) => `ad.${safeKey(field)}` };
const AD_KEYS_UNMAPPED: UniqueKeys = { ...AD_KEYS, skip: (field) => MAPPED.has(field) };

/** Walks a record's CEF fields in line order; shared by the fast path and the truncating one. */
function cefFields(r: LogRecord, ctx: FormatContext, emit: Emit): void {
  emit('externalId', r._id, true);
  emit('rt', String(Date.parse(r.created_timestamp)), true);
  emit('cat', ctx.app, true);
  let leftovers: string[] | undefined;
  for (const [field, key, check] of STANDARD) {
    const v = r[field];
    if (v === undefined && !Object.hasOwn(r, field)) continue;
    if (check && !check(v)) (leftovers ??= []).push(field);
    else emit(key, text(v), false);
  }
  for (const [field, key, label, check] of CUSTOM) {
    const v = r[field];
    if (v === undefined && !Object.hasOwn(r, field)) continue;
    if (check && !check(v)) {
      (leftovers ??= []).push(field);
      continue;
    }
    emit(key, text(v), false);
    emit(LABEL_KEYS.get(key)!, label, true);
  }
  // then mapped fields whose values did not fit their key and every other field, unknown ones
  // too, as ArcSight "additional data" keys: nothing is dropped
  if (leftovers) {
    for (const field of Object.keys(r)) if (!MAPPED.has(field)) leftovers.push(field);
    emitUnique(r, leftovers, AD_KEYS, emit);
  } else {
    emitUnique(r, Object.keys(r), AD_KEYS_UNMAPPED, emit);
  }
}

export function cefHeader(r: LogRecord, ctx: FormatContext): string {
  const sigId = typeof r.activity_type === 'string' && r.activity_type !== '' ? r.activity_type : ctx.app;
  const name = typeof r.name === 'string' && r.name !== '' ? r.name : `${ctx.app} ${sigId}`;
  return `CEF:0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(sigId)}|${escapeCefHeader(name)}|${numericSeverity(r.severity)}|`;
}

const CEF = keyValueFormat(' ', escapeCefValue, cefFields);

export function cefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  return CEF.pairs(r, ctx);
}

export function formatCef(r: LogRecord, ctx: FormatContext): string {
  return CEF.line(cefHeader(r, ctx), r, ctx);
}
