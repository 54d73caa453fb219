import type { LogRecord } from '../types.js';
import { fitPairs, numericSeverity, safeKey, text, type FormatContext, type Pair } from './fields.js';
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
export function escapeLeefValue(s: string): string {
  RE.lastIndex = 0;
  return RE.test(s) ? s.replace(RE, (c) => ESC[c]!) : s;
}

export const LEEF_TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSX";

const RENAMED = new Map([['_id', 'externalId'], ['user', 'usrName'], ['host', 'src']]);

export function leefPairs(r: LogRecord, ctx: FormatContext): Pair[] {
  const pairs: Pair[] = [
    { key: 'devTime', value: new Date(Date.parse(r.created_timestamp)).toISOString(), keep: true },
    { key: 'devTimeFormat', value: LEEF_TIME_FORMAT, keep: true },
    { key: 'sev', value: String(numericSeverity(r.severity)), keep: true },
    { key: 'cat', value: ctx.app, keep: true },
  ];
  const used = new Set(pairs.map((p) => p.key));
  for (const field of Object.keys(r)) {
    if (field === 'created_timestamp') continue;
    const base = RENAMED.get(field) ?? safeKey(field);
    let key = base;
    for (let n = 2; used.has(key); n++) key = `${base}_${n}`;
    used.add(key);
    pairs.push({ key, value: text(r[field]), keep: field === '_id' });
  }
  return pairs;
}

export function formatLeef(r: LogRecord, ctx: FormatContext): string {
  const eventId = typeof r.activity_type === 'string' && r.activity_type !== '' ? r.activity_type : ctx.app;
  const header = `LEEF:2.0|Symantec|CloudSOC|${escapeCefHeader(ctx.version)}|${escapeCefHeader(eventId)}|${LEEF_DELIMITER}|`;
  return fitPairs(leefPairs(r, ctx), (pairs) => {
    let body = '';
    for (const p of pairs) body += `${body === '' ? '' : LEEF_DELIMITER}${p.key}=${escapeLeefValue(p.value)}`;
    return header + body;
  }, ctx);
}
