import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { makeCerts } from '../helpers/certs.js';
import { delivered, readLog, runAgent, tmp } from '../helpers/agent.js';

// What a run loads is part of its start-up cost (issue 8: "load only what the chosen command
// needs"). These tests run the built agent (dist/siem-agent.cjs, via bin/siem-agent) and read
// the list of Node's built-in modules it loaded, written at exit by a --require'd hook.

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ data: { seed: 3, counts: { Investigate: 300, Detect: 100 } } });
});
afterAll(() => emu.close());

async function builtinsLoadedBy(args: (dir: string, config: string) => string[]) {
  const dir = tmp('sa-startup-');
  const hook = join(dir, 'hook.cjs');
  const list = join(dir, 'builtins.txt');
  writeFileSync(hook, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)},
    process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)).join('\\n')));`);
  const res = await runAgent(args(dir, emu.configFile(dir)), { env: { NODE_OPTIONS: `--require ${hook}` } });
  return { res, dir, builtins: new Set(readFileSync(list, 'utf8').split('\n')) };
}

describe('start-up loads only what the command needs', () => {
  it('a FILE run over HTTP loads neither HTTP/2, TLS, child processes, datagrams nor zlib', async () => {
    const { res, dir, builtins } = await builtinsLoadedBy((d, config) => ['--config', config, '-o', 'FILE', '-f', join(d, 'out.cef'), '--severity', 'all', '--log_file', join(d, 'agent.log')]);
    expect(res.code, res.stderr).toBe(0);
    expect(delivered(readLog(join(dir, 'agent.log')), 'Investigate')).toBe(300);
    expect(builtins.has('http')).toBe(true); // the hook saw the run's modules (undici's)
    for (const m of ['http2', 'tls', '_tls_wrap', 'child_process', 'dgram', 'zlib']) expect(builtins.has(m), m).toBe(false);
  });

  it('`status` does not load the HTTP client', async () => {
    const { res, builtins } = await builtinsLoadedBy((_d, config) => ['status', '--config', config]);
    expect(res.code, res.stderr).not.toBe(null);
    expect(builtins.has('fs')).toBe(true);
    // (not net: a stdout that is a pipe, as here and under cron, is a net.Socket)
    for (const m of ['http', 'child_process', 'zlib']) expect(builtins.has(m), m).toBe(false);
  });

  it('without a build, bin/siem-agent says so in one line and exits 1', () => {
    const dir = tmp('sa-nobuild-');
    mkdirSync(join(dir, 'bin'));
    for (const f of ['siem-agent', 'package.json']) copyFileSync(new URL(`../../bin/${f}`, import.meta.url), join(dir, 'bin', f));
    const r = spawnSync(join(dir, 'bin', 'siem-agent'), ['--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('siem-agent: cannot load the built agent dist/siem-agent.cjs (MODULE_NOT_FOUND); run `npm run build` in the agent\'s directory\n');
  });

  it('the bundle is ASCII, which V8 reads as one-byte text', () => {
    const bundle = readFileSync(new URL('../../dist/siem-agent.cjs', import.meta.url));
    const at = bundle.findIndex((b) => b > 0x7e || (b < 0x20 && b !== 0x0a && b !== 0x09 && b !== 0x0d));
    expect(at, at >= 0 ? bundle.subarray(Math.max(0, at - 60), at + 20).toString('latin1') : '').toBe(-1);
  });

  it('undici\'s HTTP/2 module, kept out of start-up, still works when called', async () => {
    // the bundle replaces it with a stand-in that loads it on first call (scripts/build.mjs)
    const c = makeCerts(tmp('sa-h2-'));
    const certs = { serverKey: readFileSync(c.serverKey), serverCert: readFileSync(c.serverCert), ca: readFileSync(c.ca) };
    const server = createSecureServer({ key: certs.serverKey, cert: certs.serverCert, allowHTTP1: false }, (req, res) => {
      res.end(`h2 ${req.httpVersion}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const agent = createRequire(import.meta.url)('../../dist/siem-agent.cjs') as { pullParts(): Promise<{ Agent: new (o: object) => { close(): Promise<void> }; request(url: string, o: object): Promise<{ statusCode: number; body: { text(): Promise<string> } }> }> };
      const { Agent, request } = await agent.pullParts();
      const dispatcher = new Agent({ allowH2: true, connect: { ca: certs.ca, servername: 'localhost' } });
      const port = (server.address() as { port: number }).port;
      const res = await request(`https://127.0.0.1:${port}/`, { method: 'GET', headers: {}, dispatcher });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('h2 2.0');
      await dispatcher.close();
    } finally {
      server.close();
    }
  });
});
