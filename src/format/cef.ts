import type { LogRecord } from '../types.js';
import { numericSeverity, safeKey, text, type FormatContext, type Pair } from './fields.js';
import { keyValueFormat, type Emit } from './line.js';

/*
 * CEF as ArcSight's "Implementing ArcSight CEF" defines it. Header: `\` and `|` escaped.
 * Extension: `\`, `=` escaped, CR/LF written as \r and \n, so no value can end a line or
 * start a key of its own. Header values are capped (their full text is in the extension).
 */
const HEADER_MAX = 128;

const HEADER_SPECIAL = /[\\|\r\n]/;
export function escapeCefHeader(s: string): string {
  // most header values need nothing: one test instead of a replace that allocates (measured below)
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

/** `ad.<field>` for a field name that needs no cleaning, '' for one that does. Cached: names repeat. */
const adKeys = new Map<string, string>();
function plainAdKey(field: string): string {
  let k = adKeys.get(field);
  if (k === undefined) {
    k = safeKey(field) === field ? `ad.${field}` : '';
    if (adKeys.size < 10_000) adKeys.set(field, k);
  }
  return k;
}

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
  // everything else, unknown fields too, as ArcSight "additional data" keys: nothing is dropped.
  // Usual case: names that need no cleaning cannot collide, so they go straight out; from the
  // first that needs cleaning (or after any earlier leftover) the rest take the collision check.
  const keys = Object.keys(r);
  let direct = 0;
  if (!leftovers) {
    for (; direct < keys.length; direct++) {
      const field = keys[direct]!;
      if (MAPPED.has(field)) continue;
      const plain = plainAdKey(field);
      if (plain === '') break;
      emit(plain, text(r[field]), false);
    }
  }
  for (let i = direct; i < keys.length; i++) if (!MAPPED.has(keys[i]!)) (leftovers ??= []).push(keys[i]!);
  if (!leftovers) return;
  const used = new Set<string>();
  for (let i = 0; i < direct; i++) if (!MAPPED.has(keys[i]!)) used.add(plainAdKey(keys[i]!));
  for (const field of leftovers) {
    const base = `ad.${safeKey(field)}`;
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`;
    used.add(key);
    emit(key, text(r[field]), false);
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
