import type { Socket } from 'node:net';
import { OutputError, tlsAdvice } from '../errors.js';
import { turns } from './turns.js';

/** How long a connection must stay healthy after a write before its data counts as received. */
export const CONFIRM_MS = 25;
/** Connections a backlog is re-sent on before the output gives up. */
const MAX_ATTEMPTS = 5;

export interface StreamConnection {
  open(): Promise<void>;
  send(data: Buffer): Promise<void>;
  confirm(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A stream socket (TCP, TLS, unix stream) that reconnects with backoff. Plain TCP syslog has no
 * acknowledgement: data the kernel accepted can still die with a receiver that crashes. So
 * everything written since the last confirm is kept and re-sent on a new connection; the marker
 * moves only after confirm. (Receivers may see those lines twice. Lines a receiver read and then
 * lost while dying cannot be detected without an application-level ack, which syslog lacks.)
 */
export function streamConnection(where: string, dial: () => Promise<Socket>, reconnectMs: number, dropHint = ''): StreamConnection {
  let sock: Socket | undefined;
  let broken: Error | undefined;
  /** Set when a reconnect gave up: a confirm then fails at once instead of waiting it out again. */
  let down: OutputError | undefined;
  /** Written since their confirmation began, with a sequence number each (see confirm). */
  let unconfirmed: { seq: number; data: Buffer }[] = [];
  let seq = 0;
  let resentAt = -Infinity;
  // Two apps share one connection: a send, a recovery and the end of a confirm never interleave,
  // so there is one reconnect at a time and nothing is written on a connection being replaced.
  const exclusive = turns();

  const describeErr = (e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    const code = err.code ?? '';
    // a TLS alert from the receiver: it refused us (our client certificate), not we it
    if (/ALERT_(CERTIFICATE_REQUIRED|UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|ACCESS_DENIED|HANDSHAKE_FAILURE)/.test(code + err.message)) {
      return `the receiver refused our client certificate (${code || err.message}); give one it trusts with --tls_cert and --tls_key`;
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ERR_TLS/.test(code + err.message)) return `TLS verification failed (${code || err.message}); ${tlsAdvice(code, '--tls_ca')}`;
    if (code === 'ECONNREFUSED') return 'nothing is listening (ECONNREFUSED)';
    return code || err.message;
  };
  const attach = (s: Socket) => {
    s.on('error', (e) => { broken = e; });
    s.on('close', () => { broken ??= new Error('connection closed by the receiver'); });
    s.on('data', () => undefined); // a receiver may talk back; never let it fill our buffer
    sock = s;
    broken = undefined;
    down = undefined;
  };
  const write = (s: Socket, data: Buffer) => new Promise<void>((resolve, reject) => {
    s.write(data, (e) => (e ? reject(e) : resolve()));
  });
  const healthy = () => sock !== undefined && broken === undefined;

  /** New connection with exponential backoff, for at most reconnectMs. */
  async function reconnect(first: unknown): Promise<Socket> {
    sock?.destroy();
    sock = undefined;
    const deadline = Date.now() + reconnectMs;
    let last: unknown = first;
    for (let delay = 250; Date.now() < deadline; delay = Math.min(delay * 2, 5000)) {
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, deadline - Date.now()))));
      try {
        const s = await dial();
        attach(s);
        return s;
      } catch (e) {
        last = e;
        if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/.test(String((e as NodeJS.ErrnoException).code) + String((e as Error).message))) break;
      }
    }
    throw (down = new OutputError(`output ${where}: connection lost and not re-established within ${reconnectMs / 1000} s (${describeErr(last)})`, 0, 'EDOWN'));
  }

  const dropping = (e: unknown) => (down = new OutputError(`output ${where}: the receiver keeps dropping the connection (${describeErr(e)})${dropHint}`, 0, 'EDOWN'));

  /** Sends the unconfirmed backlog on a fresh connection after a break (a few tries at most). */
  async function recover(e: unknown): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (attempt === MAX_ATTEMPTS) throw dropping(e);
      const s = await reconnect(e);
      try {
        await write(s, Buffer.concat(unconfirmed.map((u) => u.data)));
        resentAt = performance.now();
        return;
      } catch (err) {
        e = err;
      }
    }
  }

  return {
    async open() {
      try {
        attach(await dial());
      } catch (e) {
        throw new OutputError(`output ${where}: cannot connect (${describeErr(e)})`, 0, 'EDOWN');
      }
    },
    send(data) {
      return exclusive(async () => {
        unconfirmed.push({ seq: seq++, data });
        if (!healthy()) return recover(broken);
        try {
          await write(sock!, data);
        } catch (e) {
          await recover(e);
        }
      });
    },
    /**
     * Resolves once everything sent before it was called has been on a connection that stayed
     * healthy for CONFIRM_MS; a backlog re-sent after a break must live through a window of its
     * own (on a connection that dies again it is re-sent again, a few times at most). Only what
     * was sent before this call is let go of: another app's page sent meanwhile waits for its
     * own confirm.
     */
    async confirm() {
      const upTo = seq;
      for (let attempt = 0; ; attempt++) {
        await new Promise((r) => setTimeout(r, CONFIRM_MS));
        const done = await exclusive(async () => {
          if (healthy()) {
            // re-sent by another app's recovery meanwhile: that connection needs a window of its
            // own; a connection re-made that often has not shown it keeps what it gets (a TLS
            // receiver refusing the client certificate drops each one a few ms after the handshake)
            if (performance.now() - resentAt < CONFIRM_MS) {
              if (attempt < MAX_ATTEMPTS) return false;
              throw dropping(broken ?? new Error('connection re-made on every attempt'));
            }
            unconfirmed = unconfirmed.filter((u) => u.seq >= upTo);
            return true;
          }
          // another app's confirm, begun after our send, has already covered what this one covers
          if (!unconfirmed.some((u) => u.seq < upTo)) return true;
          if (down) throw down;
          if (attempt === MAX_ATTEMPTS) throw dropping(broken);
          await recover(broken);
          return false;
        });
        if (done) return;
      }
    },
    async close() {
      const s = sock;
      sock = undefined;
      if (!s) return;
      // half-close and give the receiver a moment to read to the end before we drop the socket
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { s.destroy(); resolve(); }, 2000);
        s.once('close', () => { clearTimeout(t); resolve(); });
        s.end();
      });
    },
  };
}
