// Fixtures for end-to-end tests that serve their own logs: records, a one-page body, and a logs API
// answering with a fixed raw body (for bodies the emulator cannot produce: it writes
// JSON.stringify's spellings only, so no 1e400, no BOM, no lower-case z it was not given).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import type { LogRecord } from '../../src/types.js';

export const iso = (ms: number): string => new Date(ms).toISOString();
export const mk = (id: string, ts: string, over: Record<string, unknown> = {}): LogRecord => ({ _id: id, created_timestamp: ts, severity: 'high', service: 'Box', ...over });

/** A logs page with no next page around the logs' JSON text. */
export const page = (logsJson: string): string => `{"meta":{"limit":1000,"total_count":1,"next":null},"logs":[${logsJson}]}`;

/** Servers and emulators a test file started; close them all in its afterAll. */
export function fixtures() {
  const started: { close: () => Promise<void> }[] = [];
  return {
    /** Closed with the rest by closeAll. */
    track: (s: { close: () => Promise<void> }) => { started.push(s); },
    closeAll: async () => {
      for (const s of started.splice(0)) await s.close();
    },
    async emulator(detect: LogRecord[], investigate: LogRecord[] = []): Promise<Emulator> {
      const e = await startEmulator({ data: { Investigate: investigate, Detect: detect } });
      started.push(e);
      return e;
    },
    /** A logs API answering every logs request with `body`, and a config.json for it. */
    async rawApi(body: Buffer | string): Promise<{ url: string; configFile: (dir: string) => string }> {
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      const server = createServer((req, res) => {
        if (!(req.url ?? '').includes('/logs/get/')) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': buf.length });
        res.end(buf);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      started.push({ close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }) });
      const configFile = (dir: string) => {
        const p = join(dir, 'config.json');
        writeFileSync(p, JSON.stringify({ api_server: url, tenant: 'acme', key_id: 'k', key_secret: 's' }), { mode: 0o600 });
        return p;
      };
      return { url, configFile };
    },
  };
}
