import { redactUserinfo } from './redact.js';
import { UsageError } from './errors.js';

/** `--x a b` and `--x a,b` both mean [a, b]; empty items are dropped. */
export function splitList(values: string[] | undefined): string[] | undefined {
  if (!values) return undefined;
  const out = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  return out;
}

/** Values from a fixed set, case-insensitive; an unknown one is a one-line error listing the valid ones. */
export function oneOf<T extends string>(flag: string, value: string, valid: readonly T[], normalise: (s: string) => string = (s) => s.toLowerCase()): T {
  const v = normalise(value);
  const hit = valid.find((x) => normalise(x) === v);
  if (hit === undefined) throw new UsageError(`${flag}: unknown value "${value}"; valid values: ${valid.join(', ')}`);
  return hit;
}

export function wholeNumber(flag: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${flag}: expected a whole number, got "${value}"`);
  const n = Number(value.trim());
  if (n < min || n > max) throw new UsageError(`${flag}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** The longest a Node timer can wait, in seconds: a longer delay fires at once (TimeoutOverflowWarning). */
export const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);

export function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a number greater than 0, got "${value}"`);
  return n;
}

/** Seconds greater than 0 and at most MAX_TIMER_S (~24.8 days): every such flag ends up in a timer. */
export function seconds(flag: string, value: string | undefined): number | undefined {
  const n = positiveNumber(flag, value);
  if (n !== undefined && n > MAX_TIMER_S) throw new UsageError(`${flag}: at most ${MAX_TIMER_S} seconds (24.8 days), got "${value}"`);
  return n;
}

export function isoDay(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(`${value}T00:00:00.000Z`) : undefined;
  if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw new UsageError(`${flag}: expected a day as YYYY-MM-DD, got "${value}"`);
  }
  if (d.getTime() > Date.now()) throw new UsageError(`${flag}: ${value} is in the future`);
  return value;
}

/** Short flags that take no value (they may be clustered: `-cd`). */
const SHORT_BOOLEAN = new Set(['c', 'r', 'd']);

/** argv with secrets removed, for last_job.status and support bundles. */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--proxy_password') {
      out.push(a);
      if (i + 1 < argv.length) out.push('***');
      i++;
    } else if (a.startsWith('--proxy_password=')) {
      out.push('--proxy_password=***');
    } else if (/^-[a-zA-Z]/.test(a)) {
      // a short flag or a cluster of them (commander: `-p SECRET`, `-pSECRET`, `-dpSECRET`)
      let j = 1;
      while (j < a.length && SHORT_BOOLEAN.has(a[j]!)) j++;
      if (a[j] === 'p') {
        out.push(j + 1 < a.length ? `${a.slice(0, j + 1)}***` : a);
        if (j + 1 === a.length && i + 1 < argv.length) {
          out.push('***');
          i++;
        }
      } else {
        out.push(a);
      }
    } else if (a === '--proxy' && i + 1 < argv.length) {
      out.push(a, redactUserinfo(argv[++i]!));
    } else {
      out.push(a.startsWith('--proxy=') ? `--proxy=${redactUserinfo(a.slice(8))}` : a.includes('@') && a.includes('://') ? redactUserinfo(a) : a);
    }
  }
  return out;
}

export const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
