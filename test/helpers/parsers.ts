// Parsers written from the format specifications, independently of src/format: they are the
// judge of what the agent writes, so they are strict and throw on anything malformed.

/** RFC 6587: a TCP stream as messages, by LF (non-transparent) or octet counting (MSG-LEN in bytes). */
export function parseSyslogFrame(buf: string, framing: 'lf' | 'octet'): string[] {
  if (framing === 'lf') return buf.split('\n').filter((l) => l !== '');
  const bytes = Buffer.from(buf, 'utf8');
  const out: string[] = [];
  let i = 0;
  while (i < bytes.length) {
    let j = i;
    while (j < bytes.length && bytes[j]! >= 0x30 && bytes[j]! <= 0x39) j++;
    if (j === i || bytes[j] !== 0x20) throw new Error(`octet framing: no MSG-LEN at byte ${i}`);
    const len = Number(bytes.subarray(i, j).toString('ascii'));
    const start = j + 1;
    if (start + len > bytes.length) throw new Error(`octet framing: frame of ${len} bytes overruns the stream`);
    out.push(bytes.subarray(start, start + len).toString('utf8'));
    i = start + len;
  }
  return out;
}

const pri = (s: string) => {
  const m = /^<(\d{1,3})>/.exec(s);
  if (!m || Number(m[1]) > 191) throw new Error(`syslog: bad PRI in ${s.slice(0, 20)}`);
  const p = Number(m[1]);
  return { pri: p, facility: p >> 3, severity: p & 7, rest: s.slice(m[0].length) };
};

/** RFC 3164: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`. */
export function parseRfc3164(line: string) {
  const p = pri(line);
  const m = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ([\s\S]*)$/.exec(p.rest);
  if (!m) throw new Error(`RFC 3164: cannot parse ${line.slice(0, 80)}`);
  return { pri: p.pri, facility: p.facility, severity: p.severity, timestamp: m[1]!, hostname: m[2]!, tag: m[3]!, pid: m[4] ? Number(m[4]) : undefined, msg: m[5]! };
}

/** RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`, NILVALUE `-`, optional BOM. */
export function parseRfc5424(line: string) {
  const p = pri(line);
  const m = /^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) /.exec(p.rest);
  if (!m || m[1] !== '1') throw new Error(`RFC 5424: cannot parse ${line.slice(0, 80)}`);
  let rest = p.rest.slice(m[0].length);
  let sd = '-';
  if (rest.startsWith('-')) {
    rest = rest.slice(1);
  } else if (rest.startsWith('[')) {
    // SD-ELEMENTs: param values may hold \" \\ \] escapes
    let i = 0;
    while (rest[i] === '[') {
      i++;
      let inQuote = false;
      for (; i < rest.length; i++) {
        const c = rest[i];
        if (inQuote && c === '\\') { i++; continue; }
        if (c === '"') inQuote = !inQuote;
        else if (c === ']' && !inQuote) break;
      }
      if (rest[i] !== ']') throw new Error('RFC 5424: unterminated structured data');
      i++;
    }
    sd = rest.slice(0, i);
    rest = rest.slice(i);
  } else throw new Error('RFC 5424: bad structured data');
  let msg = '';
  if (rest.length > 0) {
    if (rest[0] !== ' ') throw new Error('RFC 5424: no space before MSG');
    msg = rest.slice(1);
    if (msg.startsWith('\uFEFF')) msg = msg.slice(1);
  }
  const nil = (v: string) => (v === '-' ? undefined : v);
  return { pri: p.pri, facility: p.facility, severity: p.severity, version: 1, timestamp: nil(m[2]!), hostname: nil(m[3]!), appName: nil(m[4]!), procId: nil(m[5]!), msgId: nil(m[6]!), structuredData: sd, msg };
}

/** Splits on `sep` where it is not escaped by a backslash; returns the pieces still escaped. */
function splitUnescaped(s: string, sep: string, max = Infinity): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + s[i + 1];
      i++;
    } else if (c === sep && parts.length < max) {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

function unescape(s: string, allowed: Record<string, string>, where: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') { out += c; continue; }
    const n = s[i + 1];
    if (n === undefined || !Object.hasOwn(allowed, n)) throw new Error(`${where}: invalid escape \\${n ?? '(end)'}`);
    out += allowed[n];
    i++;
  }
  return out;
}

const CEF_HEADER_ESC = { '\\': '\\', '|': '|' };
const CEF_EXT_ESC = { '\\': '\\', '=': '=', n: '\n', r: '\r' };
/** Keys: letters, digits and the few punctuation characters CEF and ArcSight's "ad." keys use. */
const CEF_KEY = /^[A-Za-z0-9_.\[\]-]+$/;

/**
 * ArcSight "Implementing ArcSight CEF": `CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension`.
 * Header: `\|` and `\\`. Extension: space-separated key=value; in values `\=`, `\\`, `\n`, `\r`;
 * a value runs until the space before the next key=.
 */
export function parseCef(line: string) {
  if (/[\r\n]/.test(line)) throw new Error('CEF: raw line break inside a record');
  if (!line.startsWith('CEF:')) throw new Error('CEF: no CEF: prefix');
  const parts = splitUnescaped(line.slice(4), '|', 7);
  if (parts.length !== 8) throw new Error(`CEF: expected 7 header fields, got ${parts.length - 1}`);
  const h = parts.slice(0, 7).map((p) => unescape(p, CEF_HEADER_ESC, 'CEF header'));
  const ext = parts[7]!;
  // null prototype: keys such as "constructor" or "__proto__" are plain keys here
  const extension: Record<string, string> = Object.create(null) as Record<string, string>;
  // positions of unescaped '='
  const eqs: number[] = [];
  for (let i = 0; i < ext.length; i++) {
    if (ext[i] === '\\') { i++; continue; }
    if (ext[i] === '=') eqs.push(i);
  }
  const keyStart = (eq: number) => {
    let k = eq;
    while (k > 0 && ext[k - 1] !== ' ') k--;
    return k;
  };
  for (let n = 0; n < eqs.length; n++) {
    const eq = eqs[n]!;
    const ks = keyStart(eq);
    const key = ext.slice(ks, eq);
    if (!CEF_KEY.test(key)) throw new Error(`CEF: bad key "${key}" (an unescaped = inside a value?)`);
    if (n === 0 && ks !== 0) throw new Error('CEF: text before the first key');
    const end = n + 1 < eqs.length ? keyStart(eqs[n + 1]!) - 1 : ext.length;
    if (end < eq + 1) throw new Error(`CEF: empty key after ${key}`);
    if (Object.hasOwn(extension, key)) throw new Error(`CEF: key ${key} appears twice`);
    extension[key] = unescape(ext.slice(eq + 1, end), CEF_EXT_ESC, `CEF value of ${key}`);
  }
  if (eqs.length === 0 && ext.trim() !== '') throw new Error('CEF: extension without key=value');
  return { version: h[0]!, vendor: h[1]!, product: h[2]!, deviceVersion: h[3]!, signatureId: h[4]!, name: h[5]!, severity: h[6]!, extension };
}

/**
 * LEEF 2.0 as IBM's "Log Event Extended Format (LEEF)" guide defines it:
 * `LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|attributes`. The header is split on
 * `|` (no escape is defined); the delimiter is one character or its hex value (`x` or `0x` and
 * 1-4 hex digits), tab when empty; attributes are "separated by tab or the delimiter character",
 * each key=value up to the next separator. The guide defines no escaping in values: nothing is
 * unescaped (`\n` stays the two characters `\` and `n`).
 */
export function parseLeef(line: string) {
  if (/[\r\n]/.test(line)) throw new Error('LEEF: raw line break inside a record');
  if (!line.startsWith('LEEF:')) throw new Error('LEEF: no LEEF: prefix');
  const parts = line.slice(5).split('|');
  if (parts.length < 7) throw new Error(`LEEF: expected 6 header fields, got ${parts.length - 1}`);
  const h = parts.slice(0, 6);
  if (h[0] !== '2.0') throw new Error(`LEEF: version ${h[0]} is not 2.0`);
  let delim = h[5]!;
  const hex = /^(?:0x|x)([0-9a-fA-F]{1,4})$/.exec(delim);
  if (hex) delim = String.fromCharCode(parseInt(hex[1]!, 16));
  else if (delim === '') delim = '\t';
  else if (delim.length !== 1) throw new Error(`LEEF: bad delimiter "${delim}"`);
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  const body = parts.slice(6).join('|');
  if (body !== '') {
    for (const a of body.split(delim === '\t' ? '\t' : new RegExp(`[\t${delim.replace(/[\\\]^-]/g, '\\$&')}]`))) {
      const eq = a.indexOf('=');
      if (eq <= 0) throw new Error(`LEEF: attribute without key=value: ${a.slice(0, 40)}`);
      const key = a.slice(0, eq);
      if (/\s/.test(key)) throw new Error(`LEEF: key "${key}" is not one word`);
      if (Object.hasOwn(attrs, key)) throw new Error(`LEEF: key ${key} appears twice`);
      attrs[key] = a.slice(eq + 1);
    }
  }
  return { version: h[0]!, vendor: h[1]!, product: h[2]!, productVersion: h[3]!, eventId: h[4]!, delimiter: delim, attrs };
}

export function parseJsonLine(line: string): unknown {
  if (/[\r\n]/.test(line)) throw new Error('JSON line: raw line break');
  const v = JSON.parse(line) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('JSON line: not an object');
  return v;
}
