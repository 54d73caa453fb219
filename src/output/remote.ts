import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { OutputError, UsageError } from '../errors.js';
import type { OutputSpec } from '../options.js';
import { frame, headerer } from './framing.js';
import { CONFIRM_MS, streamConnection } from './connection.js';
import { encodeLines } from './encode.js';
import type { Output } from './types.js';

type RemoteSpec = Extract<OutputSpec, { kind: 'REMOTE' }>;

export function remoteOutput(s: RemoteSpec, reconnectMs: number): Output {
  return s.socketType === 'UDP' ? udpOutput(s) : tcpOutput(s, reconnectMs);
}

function readPem(flag: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
}

function tcpOutput(s: RemoteSpec, reconnectMs: number): Output {
  const head = headerer(s.header, s.facility);
  const where = `${s.socketType} ${s.host}:${s.port}`;
  const ca = readPem('--tls_ca', s.tlsCa);
  const cert = readPem('--tls_cert', s.tlsCert);
  const key = readPem('--tls_key', s.tlsKey);
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls_cert and --tls_key go together');
  const dial = (): Promise<Socket> => new Promise((resolve, reject) => {
    const sock: Socket = s.socketType === 'TLS'
      ? tlsConnect({ host: s.host, port: s.port, ca, cert, key, servername: isIP(s.host) ? undefined : s.host })
      : netConnect({ host: s.host, port: s.port });
    const ready = s.socketType === 'TLS' ? 'secureConnect' : 'connect';
    const onError = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    sock.once('error', onError);
    sock.setTimeout(10_000, () => onError(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    sock.once(ready, () => {
      sock.off('error', onError);
      sock.setTimeout(0);
      sock.setKeepAlive(true, 30_000);
      resolve(sock);
    });
  });
  // RFC 5425 receivers take octet counting only (syslog-ng's syslog() driver drops the
  // connection at an LF-framed message); LF stays the default for Splunk's tcp-ssl and the like
  const hint = s.socketType === 'TLS' && s.framing === 'lf' ? '; an RFC 5425 receiver (syslog-ng\'s syslog() driver) wants --framing octet' : '';
  const conn = streamConnection(where, dial, reconnectMs, hint);
  return {
    name: `REMOTE ${where}`,
    open: () => conn.open(),
    write: (lines, sev) => conn.send(encodeLines(lines, '', (line, i) => frame(head(line, sev?.[i] ?? 6), s.framing))),
    confirm: () => conn.confirm(),
    close: () => conn.close(),
  };
}

function udpOutput(s: RemoteSpec): Output {
  const head = headerer(s.header, s.facility);
  const where = `UDP ${s.host}:${s.port}`;
  let sock: UdpSocket | undefined;
  let failure: NodeJS.ErrnoException | undefined;
  // ECONNREFUSED comes back (ICMP port unreachable) after the datagrams that met the closed
  // port were sent, so none of the page's can count as delivered; other errors (EMSGSIZE) are
  // the send that failed.
  const fail = (e: NodeJS.ErrnoException, sent: number, bytes?: number) =>
    new OutputError(`output ${where}: ${e.code === 'ECONNREFUSED' ? 'nothing is listening (ECONNREFUSED)'
      : e.code === 'EMSGSIZE' ? `message of ${bytes ?? '?'} bytes too large for a datagram (EMSGSIZE); lower --max_message_size` : e.code ?? e.message}`, e.code === 'ECONNREFUSED' ? 0 : sent, e.code);
  return {
    name: `REMOTE ${where}`,
    async open() {
      await new Promise<void>((resolve, reject) => {
        const family = isIP(s.host) === 6 ? 'udp6' : 'udp4';
        const u = createSocket(family);
        u.on('error', (e) => {
          failure = e;
          reject(fail(e, 0));
        });
        u.connect(s.port, s.host, () => {
          sock = u;
          resolve();
        });
      });
    },
    async write(lines, sev) {
      for (let i = 0; i < lines.length; i++) {
        if (failure) throw fail(failure, i);
        const msg = Buffer.from(head(lines[i]!, sev?.[i] ?? 6), 'utf8');
        await new Promise<void>((resolve, reject) => {
          sock!.send(msg, (e) => (e ? reject(fail(e, i, msg.length)) : resolve()));
        });
      }
    },
    /** A refusal arrives a moment after the send: a page counts once that moment has passed without one. */
    async confirm() {
      await new Promise((r) => setTimeout(r, CONFIRM_MS));
      if (failure) throw fail(failure, 0);
    },
    async close() {
      await new Promise<void>((resolve) => (sock ? sock.close(() => resolve()) : resolve()));
    },
  };
}
