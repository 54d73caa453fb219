import { hostname } from 'node:os';

export type HeaderKind = 'rfc3164' | 'rfc3164-local' | 'rfc5424' | 'none';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** RFC 3164 TIMESTAMP: local time, `Mmm dd hh:mm:ss`, day padded with a space. */
export function bsdTime(d: Date): string {
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

/** HOSTNAME as both RFCs want it: no spaces, printable ASCII, at most 255 characters. */
export function syslogHost(): string {
  const h = hostname().replace(/[^\x21-\x7e]/g, '') || '-';
  return h.slice(0, 255);
}

/**
 * Returns a function that puts the syslog header in front of a message. The header is
 * computed once per second at most: the timestamp is the only part that changes.
 */
export function headerer(kind: HeaderKind, facility: number): (msg: string, severity: number) => string {
  if (kind === 'none') return (msg) => msg;
  const host = syslogHost();
  const pid = process.pid;
  let cachedSec = -1;
  let cachedTime = '';
  const time = () => {
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    if (kind === 'rfc5424') return new Date(now).toISOString();
    if (sec !== cachedSec) {
      cachedSec = sec;
      cachedTime = bsdTime(new Date(now));
    }
    return cachedTime;
  };
  switch (kind) {
    case 'rfc3164':
      return (msg, sev) => `<${facility * 8 + sev}>${time()} ${host} siem-agent[${pid}]: ${msg}`;
    case 'rfc3164-local':
      // what glibc's syslog(3) sends to /dev/log: no hostname, the daemon adds its own
      return (msg, sev) => `<${facility * 8 + sev}>${time()} siem-agent[${pid}]: ${msg}`;
    case 'rfc5424':
      return (msg, sev) => `<${facility * 8 + sev}>1 ${time()} ${host} siem-agent ${pid} - - ${msg}`;
  }
}

/** RFC 6587 framing for stream transports. */
export function frame(msg: string, framing: 'lf' | 'octet'): string {
  return framing === 'lf' ? `${msg}\n` : `${Buffer.byteLength(msg, 'utf8')} ${msg}`;
}
