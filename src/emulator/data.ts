import type { AppName, LogRecord } from '../types.js';

export interface GenerateOptions {
  seed?: number;                 // deterministic PRNG, default 1
  counts?: Partial<Record<AppName, number>>;  // default { Investigate: 3000, Detect: 1000 }
  tieGroupSize?: number;         // default 1500: big groups of logs sharing one timestamp (bigger than a page)
  hostile?: boolean;             // default true: ~20% of records carry values meant to break formatters
  spanDays?: number;             // default 7: timestamps over the last spanDays days, ending 1 minute before now
  bigValue?: { app: AppName; bytes: number };  // one record gets a `message` of that many bytes
  valueBytes?: number;           // every record's `message` padded to about this many bytes
  now?: number;                  // ms epoch, default Date.now()
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = ['Box', 'Office 365', 'Yahoo Mail', 'Google Drive', 'Salesforce', 'Dropbox', 'Slack'];
const OBJECT_TYPES = ['Add user', 'File', 'Session', 'Folder', 'Email'];
const ACTIVITY_TYPES = ['Policy Alert', 'Login', 'Upload', 'Download', 'Share', 'Delete'];
// informational dominates, as on a real tenant
const SEVERITY_WEIGHTS: Record<AppName, readonly string[]> = {
  Investigate: ['informational', 'informational', 'informational', 'warning', 'warning', 'error', 'critical'],
  Detect: ['low', 'low', 'medium', 'high'],
};
const CITIES: Array<[string, string, number, number]> = [
  ['Paris', 'France', 48.8566, 2.3522], ['München', 'Germany', 48.1372, 11.5756], ['東京', 'Japan', 35.6762, 139.6503],
  ['São Paulo', 'Brazil', -23.5505, -46.6333], ['Mountain View', 'United States', 37.3861, -122.0839], ['القاهرة', 'Egypt', 30.0444, 31.2357],
];
const BROWSERS = ['Chrome', 'Firefox', 'Safari', 'Edge'];
const DEVICES = ['Windows 11', 'macOS 14', 'iOS 17', 'Android 14', 'Linux'];
/** Values meant to break a naive formatter: separators, escapes, line breaks, forged fields, any script. No NUL. */
const HOSTILE = [
  'pipe | in the middle', 'equals = sign and key=value', 'back\\slash and \\n literal', 'ends with a backslash\\',
  'line\nbreak', 'carriage\rreturn', 'crlf\r\nline', 'tab\there', 'cs1=forged suser=evil', 'key=value|', '"quoted" and \'single\'',
  'émigré naïve façade', '中文日志 测试', '😀🔥 emoji 👩‍💻', 'مرحبا RTL text', '  leading and trailing spaces  ', 'CEF:0|forged|header|',
  'LEEF:2.0|forged|x|1|2|^|a=b', 'caret ^ delimiter', '#011 looks escaped', '%s %n format', '<script>alert(1)</script>',
  '\\', '=', '|', ' ', '\u200f\u202eright-to-left override', 'a\u2028line separator',
];
const HEX = '0123456789abcdef';

function hex(rnd: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += HEX[(rnd() * 16) | 0];
  return s;
}

function record(app: AppName, ts: number, rnd: () => number, o: GenerateOptions, n: number): LogRecord {
  const pick = <T>(a: readonly T[]): T => a[(rnd() * a.length) | 0]!;
  const hostile = o.hostile !== false && rnd() < 0.2;
  const user = `user${(rnd() * 500) | 0}@example.com`;
  const activity = pick(ACTIVITY_TYPES);
  // random part varies with the seed; the app nibble and sequence make ids unique within one generation
  const id = `${hex(rnd, 16)}${app === 'Investigate' ? 'a' : 'd'}${n.toString(16).padStart(7, '0')}`;
  const r: LogRecord = {
    _id: id,
    created_timestamp: new Date(ts).toISOString(),
    inserted_timestamp: new Date(ts + 1000 + ((rnd() * 5000) | 0)).toISOString(),
    severity: pick(SEVERITY_WEIGHTS[app]),
    service: pick(SERVICES),
    user,
    user_name: hostile ? pick(HOSTILE) : `User ${n % 500}`,
    name: `${app} event ${n % 97}`,
    message: hostile ? `${pick(HOSTILE)} ${pick(HOSTILE)}` : `${activity} by ${user}`,
    object_type: pick(OBJECT_TYPES),
    activity_type: activity,
    host: rnd() < 0.1
      ? `2001:db8::${((rnd() * 65535) | 0).toString(16)}`
      : `10.${(rnd() * 255) | 0}.${(rnd() * 255) | 0}.${(rnd() * 255) | 0}`,
  };
  if (rnd() < 0.8) {
    const [city, country, lat, lon] = pick(CITIES);
    r.location = `${city}, ${country}`;
    r.city = city;
    r.country = country;
    r.latitude = lat;
    r.longitude = lon;
  }
  if (rnd() < 0.7) {
    r.device = pick(DEVICES);
    r.browser = pick(BROWSERS);
    r.user_agent = `Mozilla/5.0 (${r.device as string}) ${r.browser as string}/120.0`;
  }
  if (rnd() < 0.5) {
    r._domain = 'example.com';
    r.resource_id = hex(rnd, 16);
    r.file_size = (rnd() * 10_000_000) | 0;
  }
  if (rnd() < 0.3) r.policy_violated = hostile ? pick(HOSTILE) : 'DLP: credit cards';
  if (app === 'Detect') {
    r.threat_score = (rnd() * 100) | 0;
    r.incident_id = hex(rnd, 12);
  }
  if (hostile) {
    // 2-10 KB of text, then fields no schema knows about, of every JSON type
    r.message = `${r.message as string} ${'long text '.repeat(200 + ((rnd() * 800) | 0))}${pick(HOSTILE)}`;
    r.x_custom_field = pick(HOSTILE);
    r['weird key with space'] = pick(HOSTILE);
    r['key=with|separators'] = pick(HOSTILE);
    r.nested = { a: [1, { b: null }], s: pick(HOSTILE) };
    r.list = [pick(HOSTILE), 2, true];
    r.flag = rnd() < 0.5;
    r.ratio = Math.round(rnd() * 1e6) / 1e3;
    r.nothing = null;
  }
  if (o.valueBytes) r.message = `${r.message as string} `.padEnd(o.valueBytes, 'v');
  return r;
}

/** Millisecond times for `count` logs: big tie groups, many small ones (2-50), singles otherwise. */
function timestamps(count: number, tie: number, start: number, spanMs: number, rnd: () => number): number[] {
  // one big group a third of the way in; a second one two thirds in when there is room for it
  const bigAt = [Math.floor(count / 3)];
  if (count >= 4 * tie) bigAt.push(Math.floor((2 * count) / 3));
  const sizes: number[] = [];
  for (let n = 0; n < count;) {
    let size = 1;
    if (tie > 1 && bigAt.length > 0 && n >= bigAt[0]!) {
      bigAt.shift();
      // leave some logs after the group so the newest ones are not all ties
      size = Math.min(tie, Math.max(2, count - n - Math.floor(count / 10)));
    } else if (rnd() < 0.05) size = 2 + ((rnd() * 49) | 0);
    size = Math.min(size, count - n);
    sizes.push(size);
    n += size;
  }
  // groups evenly over the span, the newest at its end
  const step = sizes.length > 0 ? spanMs / sizes.length : 0;
  const times = new Array<number>(count);
  let n = 0;
  sizes.forEach((size, g) => {
    const t = Math.floor(start + (g + 1) * step);
    for (let k = 0; k < size; k++) times[n++] = t;
  });
  return times;
}

/** Logs per app, ascending by created_timestamp, with tie groups bigger than a page. */
export function generateLogs(o: GenerateOptions = {}): Record<AppName, LogRecord[]> {
  const rnd = prng(o.seed ?? 1);
  const spanMs = (o.spanDays ?? 7) * 86_400_000;
  const end = (o.now ?? Date.now()) - 60_000;
  const out: Record<AppName, LogRecord[]> = { Investigate: [], Detect: [] };
  for (const app of ['Investigate', 'Detect'] as const) {
    const count = Math.max(0, Math.floor(o.counts?.[app] ?? (app === 'Investigate' ? 3000 : 1000)));
    const times = timestamps(count, o.tieGroupSize ?? 1500, end - spanMs, spanMs, rnd);
    const logs = new Array<LogRecord>(count);
    for (let n = 0; n < count; n++) logs[n] = record(app, times[n]!, rnd, o, n);
    if (o.bigValue?.app === app && count > 0) logs[Math.floor(count / 2)]!.message = 'B'.repeat(o.bigValue.bytes);
    out[app] = logs;
  }
  return out;
}
