import type { AppName, LogRecord } from '../types.js';

export interface GenerateOptions {
  seed?: number;
  counts?: Partial<Record<AppName, number>>;
  tieGroupSize?: number;
  hostile?: boolean;
  spanDays?: number;
  bigValue?: { app: AppName; bytes: number };
  valueBytes?: number;
  now?: number;
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
const CITIES: Array<[string, string, number, number]> = [
  ['Paris', 'France', 48.85, 2.35], ['München', 'Germany', 48.14, 11.58], ['東京', 'Japan', 35.68, 139.69],
  ['São Paulo', 'Brazil', -23.55, -46.63], ['Mountain View', 'United States', 37.39, -122.08], ['القاهرة', 'Egypt', 30.04, 31.24],
];
const BROWSERS = ['Chrome', 'Firefox', 'Safari', 'Edge'];
const DEVICES = ['Windows 11', 'macOS 14', 'iOS 17', 'Android 14', 'Linux'];
/** Values meant to break a naive formatter: separators, escapes, line breaks, forged fields, any script. */
const HOSTILE = [
  'pipe | in the middle', 'equals = sign and key=value', 'back\\slash and \\n literal', 'ends with a backslash\\',
  'line\nbreak', 'carriage\rreturn', 'crlf\r\nline', 'tab\there', 'cs1=forged suser=evil', 'key=value|', '"quoted" and \'single\'',
  'émigré naïve façade', '中文日志 测试', '😀🔥 emoji 👩‍💻', 'مرحبا RTL text', '  leading and trailing spaces  ', 'CEF:0|forged|header|',
  'LEEF:2.0|forged|x|1|2|^|a=b', 'caret ^ delimiter', '#011 looks escaped', '%s %n format', '<script>alert(1)</script>',
];

const hex = (rnd: () => number, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rnd() * 16)];
  return s;
};

function record(app: AppName, ts: number, rnd: () => number, o: GenerateOptions, n: number): LogRecord {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
  const sevs = app === 'Investigate' ? ['informational', 'informational', 'warning', 'error', 'critical'] : ['low', 'medium', 'high'];
  const hostile = o.hostile !== false && rnd() < 0.2;
  const [city, country, lat, lon] = pick(CITIES);
  const user = `user${Math.floor(rnd() * 500)}@example.com`;
  const r: LogRecord = {
    _id: hex(rnd, 24),
    created_timestamp: new Date(ts).toISOString(),
    inserted_timestamp: new Date(ts + 1000 + Math.floor(rnd() * 5000)).toISOString(),
    severity: pick(sevs),
    service: pick(SERVICES),
    user,
    user_name: hostile ? pick(HOSTILE) : `User ${n}`,
    name: `${app} event ${n % 97}`,
    message: hostile ? `${pick(HOSTILE)} ${pick(HOSTILE)}` : `${pick(ACTIVITY_TYPES)} by ${user}`,
    object_type: pick(OBJECT_TYPES),
    activity_type: pick(ACTIVITY_TYPES),
    host: rnd() < 0.1 ? `2001:db8::${Math.floor(rnd() * 65535).toString(16)}` : `10.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}`,
  };
  if (rnd() < 0.8) Object.assign(r, { location: `${city}, ${country}`, city, country, latitude: lat, longitude: lon });
  if (rnd() < 0.7) Object.assign(r, { device: pick(DEVICES), browser: pick(BROWSERS), user_agent: `Mozilla/5.0 (${pick(DEVICES)}) ${pick(BROWSERS)}/120.0` });
  if (rnd() < 0.5) Object.assign(r, { _domain: 'example.com', resource_id: hex(rnd, 16), file_size: Math.floor(rnd() * 10_000_000) });
  if (rnd() < 0.3) r.policy_violated = hostile ? pick(HOSTILE) : 'DLP: credit cards';
  if (app === 'Detect') Object.assign(r, { threat_score: Math.floor(rnd() * 100), incident_id: hex(rnd, 12) });
  if (hostile) {
    r.message = `${r.message as string} ${'long text '.repeat(200 + Math.floor(rnd() * 800))}`;
    Object.assign(r, {
      x_custom_field: pick(HOSTILE),
      'weird key with space': pick(HOSTILE),
      nested: { a: [1, { b: null }], s: pick(HOSTILE) },
      list: [pick(HOSTILE), 2, true],
      flag: rnd() < 0.5,
      nothing: null,
    });
  }
  if (o.valueBytes) r.message = `${r.message as string} `.padEnd(o.valueBytes, 'v');
  return r;
}

/** Logs per app, ascending by created_timestamp, with tie groups bigger than a page. */
export function generateLogs(o: GenerateOptions = {}): Record<AppName, LogRecord[]> {
  const rnd = prng(o.seed ?? 1);
  const now = o.now ?? Date.now();
  const spanMs = (o.spanDays ?? 7) * 86_400_000;
  const end = now - 60_000;
  const out: Record<AppName, LogRecord[]> = { Investigate: [], Detect: [] };
  for (const app of ['Investigate', 'Detect'] as const) {
    const count = o.counts?.[app] ?? (app === 'Investigate' ? 3000 : 1000);
    const tie = o.tieGroupSize ?? 1500;
    const times: number[] = [];
    // one big tie group a third of the way in, small groups everywhere, singles otherwise
    const bigAt = Math.floor(count / 3);
    let i = 0;
    const step = count > 0 ? spanMs / count : 0;
    while (times.length < count) {
      const t = Math.floor(end - spanMs + i * step);
      let size = 1;
      if (times.length >= bigAt && times.length < bigAt + 1 && tie > 1) size = tie;
      else if (rnd() < 0.05) size = 2 + Math.floor(rnd() * 49);
      for (let k = 0; k < size && times.length < count; k++) times.push(t);
      i += size;
    }
    out[app] = times.map((t, n) => record(app, t, rnd, o, n));
    if (o.bigValue?.app === app && out[app].length > 0) {
      out[app][Math.floor(out[app].length / 2)]!.message = 'B'.repeat(o.bigValue.bytes);
    }
  }
  return out;
}
