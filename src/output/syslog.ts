import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { connect as netConnect, type Socket } from 'node:net';
import { OutputError } from '../errors.js';
import { headerer } from './framing.js';
import { streamConnection } from './connection.js';
import { encodeLines } from './encode.js';
import type { Output } from './types.js';

interface DgramSocket {
  on(ev: 'error', cb: (e: { code: number | string; message: string }) => void): void;
  on(ev: 'writable' | 'connect', cb: () => void): void;
  once(ev: 'error', cb: (e: { code: number | string; message: string }) => void): void;
  once(ev: 'writable' | 'connect', cb: () => void): void;
  removeAllListeners(ev?: string): void;
  connect(path: string): void;
  send(buf: Buffer, cb: (e?: { code: number | string; message: string }) => void): void;
  close(): void;
}

const errName = (code: number | string): string => {
  if (typeof code === 'string') return code;
  const hit = Object.entries(constants.errno).find(([, v]) => v === -code);
  return hit ? hit[0] : String(code);
};

/**
 * The local syslog socket (/dev/log or -t PATH). Usually a unix *datagram* socket, which Node
 * cannot open itself: the maintained native addon unix-dgram does. A full receive queue is
 * back-pressure (EAGAIN → wait for 'writable'), never a drop. A stream socket at the path is
 * handled too (LF framing, as syslog-ng's unix-stream() reads it).
 */
export function syslogOutput(path: string, facility: number, reconnectMs: number, rate?: number): Output {
  const head = headerer('rfc3164-local', facility);
  let sock: DgramSocket | undefined;
  let stream: ReturnType<typeof streamConnection> | undefined;
  let unconfirmed: Buffer[] = [];
  /** Set when a reconnect gave up: confirm() fails then, so a page cut short checkpoints nothing. */
  let down: OutputError | undefined;
  // the backlog re-sent after a reconnect keeps --rate too: a restarted rsyslog's rate limit
  // would drop what a burst takes past it (the daemon's own limit is why the default is 30/s)
  const step = rate ? Math.max(1, Math.floor(rate / 50)) : 0;
  const resendPause = (i: number) => (step && (i + 1) % step === 0 ? new Promise((r) => setTimeout(r, (step * 1000) / rate!)) : undefined);

  const connectDgram = (): Promise<DgramSocket> => new Promise((resolve, reject) => {
    const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram'): DgramSocket };
    const s = unix.createSocket('unix_dgram');
    s.once('error', (e) => {
      s.removeAllListeners();
      try { s.close(); } catch { /* already closed */ }
      reject(Object.assign(new Error(errName(e.code)), { code: errName(e.code) }));
    });
    s.once('connect', () => {
      s.removeAllListeners('error');
      s.on('error', () => undefined); // send errors arrive through callbacks
      resolve(s);
    });
    s.connect(path);
  });

  const sendOne = (s: DgramSocket, buf: Buffer): Promise<void> => new Promise((resolve, reject) => {
    const attempt = () => s.send(buf, (e) => {
      if (!e) return resolve();
      if (e.code === 1 || e.message === 'congestion') return s.once('writable', attempt);
      reject(Object.assign(new Error(errName(e.code)), { code: errName(e.code) }));
    });
    attempt();
  });

  async function reconnect(first: NodeJS.ErrnoException): Promise<void> {
    try { sock?.close(); } catch { /* gone */ }
    sock = undefined;
    const deadline = Date.now() + reconnectMs;
    let last = first;
    for (let delay = 250; Date.now() < deadline; delay = Math.min(delay * 2, 5000)) {
      await new Promise((r) => setTimeout(r, delay));
      try {
        sock = await connectDgram();
        for (let i = 0; i < unconfirmed.length; i++) {
          await sendOne(sock, unconfirmed[i]!);
          await resendPause(i);
        }
        down = undefined;
        return;
      } catch (e) {
        last = e as NodeJS.ErrnoException;
      }
    }
    throw (down = new OutputError(`output SYSLOG ${path}: socket gone and not back within ${reconnectMs / 1000} s (${last.code ?? last.message})`, 0, 'EDOWN'));
  }

  return {
    name: `SYSLOG ${path}`,
    async open() {
      try {
        sock = await connectDgram();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPROTOTYPE') {
          stream = streamConnection(`SYSLOG ${path}`, () => new Promise<Socket>((resolve, reject) => {
            const s = netConnect(path);
            s.once('error', reject);
            s.once('connect', () => { s.off('error', reject); resolve(s); });
          }), reconnectMs);
          return stream.open();
        }
        const hint = code === 'ENOENT' ? 'no such socket: is the syslog daemon running? (-t PATH for another socket)' : code === 'ECONNREFUSED' ? 'nothing is listening on it' : code === 'EACCES' ? 'permission denied' : code;
        throw new OutputError(`output SYSLOG ${path}: cannot connect (${hint})`, 0, 'EDOWN');
      }
    },
    async write(lines, sev) {
      if (stream) return stream.send(encodeLines(lines, '\n', (line, i) => head(line, sev?.[i] ?? 6)));
      for (let i = 0; i < lines.length; i++) {
        const buf = Buffer.from(head(lines[i]!, sev?.[i] ?? 6), 'utf8');
        unconfirmed.push(buf);
        try {
          await sendOne(sock!, buf);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EMSGSIZE') throw new OutputError(`output SYSLOG ${path}: message of ${buf.length} bytes too large for the socket; lower --max_message_size`, i, code);
          try {
            await reconnect(e as NodeJS.ErrnoException);
          } catch (err) {
            throw err instanceof OutputError ? new OutputError(err.message, 0, err.code) : err;
          }
        }
      }
    },
    async confirm() {
      if (stream) return stream.confirm();
      // datagrams queued in a daemon that died and did not come back are lost with it
      if (down) throw down;
      unconfirmed = [];
    },
    async close() {
      if (stream) return stream.close();
      try { sock?.close(); } catch { /* already closed */ }
      sock = undefined;
    },
  };
}
