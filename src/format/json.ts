import type { LogRecord } from '../types.js';
import { cutUtf8, type FormatContext } from './fields.js';
import { isExact, unmarkJson } from '../exact-numbers.js';

const KEEP = new Set(['_id', 'created_timestamp']);

/**
 * The record exactly as the API sent it, one object per line (JSON escapes every control
 * character; numbers JSON.parse would have changed keep their digits: exact-numbers.ts).
 */
export function formatJson(r: LogRecord, ctx: FormatContext): string {
  const line = unmarkJson(JSON.stringify(r));
  if (ctx.maxBytes <= 0 || Buffer.byteLength(line, 'utf8') <= ctx.maxBytes) return line;
  ctx.onTruncate?.();
  // shorten the longest top-level values (nested ones as their JSON text) until the line fits
  // null prototype: a field named "__proto__" stays a plain field when reassigned
  const copy: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, r);
  let out = line;
  let size = Buffer.byteLength(out, 'utf8');
  // a round cuts one value to what is over, or to "…" when that is not enough (a nested value, once
  // a string, may need a second round for its escaped quotes): a few rounds a field at most, as fitPairs
  const rounds = Object.keys(copy).length * 4;
  for (let round = 0; size > ctx.maxBytes && round < rounds; round++) {
    let longest = '';
    let longestBytes = 0;
    for (const [k, v] of Object.entries(copy)) {
      if (KEEP.has(k) || v === null || typeof v === 'number' || typeof v === 'boolean' || (typeof v === 'string' && isExact(v))) continue;
      const b = Buffer.byteLength(typeof v === 'string' ? v : unmarkJson(JSON.stringify(v)), 'utf8');
      if (b > longestBytes) {
        longest = k;
        longestBytes = b;
      }
    }
    if (longest === '' || longestBytes <= 3) break;
    const v = copy[longest];
    const s = typeof v === 'string' ? v : unmarkJson(JSON.stringify(v));
    copy[longest] = cutUtf8(s, Math.max(0, longestBytes - (size - ctx.maxBytes)));
    out = unmarkJson(JSON.stringify(copy));
    size = Buffer.byteLength(out, 'utf8');
  }
  return out;
}
