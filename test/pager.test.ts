// Neither the pager (src/source/pager.ts) nor deliverApp (src/deliver.ts) may keep a page's
// records reachable longer than it needs them: the next page is fetched at once (the prefetch),
// and records still referenced across that fetch, the write or the marker commit were copied and
// promoted by every young-generation GC meanwhile (issue 8; README "Performance"). So a page waits
// as bytes and is parsed when taken. Checked with WeakRefs and a forced full GC while a request, a
// write or a commit is held open, and by counting JSON.parse calls.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../src/emulator/server.js';
import { Agent } from '../src/source/undici.js';
import { pages } from '../src/source/pager.js';
import { deliverApp } from '../src/deliver.js';
import { formatCef } from '../src/format/cef.js';
import type { Output } from '../src/output/types.js';
import type { ClientContext } from '../src/source/client.js';
import type { Logger } from '../src/log.js';
import type { LogRecord } from '../src/types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, runId: 'test', addSecret() {}, close: async () => {} };

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 11, counts: { Investigate: 2500, Detect: 0 } } });
});
afterAll(() => emu.close());

const client = (dispatcher: InstanceType<typeof Agent>): ClientContext => ({
  config: { path: 'test', apiServer: emu.url, tenant: 'acme', keyId: 'test-key-id', keySecret: 'test-key-secret' },
  dispatcher, retries: 0, signal: new AbortController().signal, log: quiet,
});
const start = () => new Date(Date.now() - 179 * 86_400_000).toISOString();
const settle = () => new Promise((r) => setTimeout(r, 50));

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => { open = r; });
  return { promise, open };
}

describe('letting go of pages', () => {
  it('pages() parses a page only when it is taken, and holds none of it while it fetches the next one', async () => {
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    const it = pages(client(dispatcher), { app: 'Investigate', start: start(), filters: {}, pageSize: 1000, maxLogs: 2500 });
    const first = await it.next();
    const { records } = first.value!.take();
    expect(records).toHaveLength(1000);
    const refs = [records[0]!, records[999]!].map((r) => new WeakRef<LogRecord>(r));
    records.length = 0; // what deliverApp's formatPage does as it formats them

    emu.setLatency(400);
    // JSON.parse is what turns a log's bytes into a record: count the calls while page 2 is fetched
    const parse = JSON.parse;
    let parses = 0;
    JSON.parse = ((...a: Parameters<typeof parse>) => { parses++; return parse(...a); }) as typeof parse;
    let second: Awaited<ReturnType<typeof it.next>>;
    try {
      const next = it.next(); // the prefetch: the generator resumes and waits for page 2
      await new Promise((r) => setTimeout(r, 150));
      expect(emu.requests.at(-1)?.status).toBe(0); // page 2 is still being answered
      gc();
      expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true]);
      second = await next;
    } finally {
      JSON.parse = parse;
    }
    expect(parses).toBe(1); // page 2's envelope; its 1,000 logs wait as bytes until taken
    expect(second.value!.take().records).toHaveLength(1000);
    emu.setLatency(0);
    await it.return(undefined);
    await dispatcher.close();
  });

  it('pages() refuses to go on to a page when the previous one was not taken (its repeats and room depend on it)', async () => {
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    const it = pages(client(dispatcher), { app: 'Investigate', start: start(), filters: {}, pageSize: 1000, maxLogs: 2500 });
    await it.next();
    await expect(it.next()).rejects.toThrow(/Investigate page 1 was not taken before the next page was asked for/);
    await dispatcher.close();
  });

  it('deliverApp holds no records while a page is written, and no lines while its marker is committed', async () => {
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    const writes: { records: WeakRef<object>[]; lines: WeakRef<string[]>; done: ReturnType<typeof gate> }[] = [];
    const commits: ReturnType<typeof gate>[] = [];
    let seen: LogRecord[] = [];
    const output: Output = {
      name: 'held', open: async () => {}, close: async () => {},
      write(lines) {
        const w = { records: seen.map((r) => new WeakRef(r)), lines: new WeakRef(lines), done: gate() };
        seen = [];
        writes.push(w);
        return w.done.promise;
      },
    };
    const delivery = deliverApp({
      app: 'Investigate', client: client(dispatcher), output, log: quiet, stop: new AbortController().signal,
      pager: { app: 'Investigate', start: start(), filters: {}, pageSize: 1000, maxLogs: 1000 },
      // the formatter sees each record: the test keeps weak references to them, nothing more
      format: (r, c) => { seen.push(r); return formatCef(r, c); },
      fmt: { app: 'Investigate', version: 'test', maxBytes: 0 },
      commit: () => { const g = gate(); commits.push(g); return g.promise; },
      progress: { delivered: 0, duplicates: 0, pages: 0, retries: 0, truncated: 0 },
      onPage: () => {},
    });
    while (writes.length === 0) await settle();
    await settle();
    gc();
    expect(writes[0]!.records.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    writes[0]!.done.open();
    while (commits.length === 0) await settle();
    await settle();
    gc();
    expect(writes[0]!.lines.deref()).toBeUndefined();
    commits[0]!.open();
    expect((await delivery)?.timestamp).toBeDefined();
    await dispatcher.close();
  });
});

describe('a long number as _id', () => {
  it('is no _id, though the page keeps it as its digits (src/exact-numbers.ts): the page is refused', async () => {
    const { createServer } = await import('node:http');
    const body = '{"meta":{"next":null},"logs":[{"_id":9007199254740993,"created_timestamp":"2026-11-20T10:00:00.000Z"}]}';
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const dispatcher = new Agent({ keepAliveTimeout: 1000 });
    try {
      const port = (server.address() as { port: number }).port;
      const ctx = { ...client(dispatcher), config: { ...client(dispatcher).config, apiServer: `http://127.0.0.1:${port}/` } };
      const it = pages(ctx, { app: 'Detect', start: start(), filters: {}, pageSize: 1000, maxLogs: 10 });
      const first = await it.next();
      expect(() => first.value!.take()).toThrow(/API Detect page 1: log #1 has no _id/);
    } finally {
      await dispatcher.close();
      server.close();
    }
  });
});
