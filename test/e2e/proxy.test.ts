// HTTPS through a real proxy (tinyproxy, basic auth, CONNECT), TLS trust, and secrets that never leak.
import { readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { makeCerts } from '../helpers/certs.js';
import { startTinyproxy, type Proxy } from '../helpers/proxy.js';
import { jsonLines, runAgent, tmp, type AgentResult } from '../helpers/agent.js';

const SECRET = 'K3y-S3cret-7f9a2c-do-not-leak';
const PROXY_PASSWORD = 'Pr0xy-Pa55-e1b4-do-not-leak';
let emu: Emulator;
let proxy: Proxy;
let certs: ReturnType<typeof makeCerts>;
beforeAll(async () => {
  certs = makeCerts(tmp('sa-tls-'));
  emu = await startEmulator({
    keySecret: SECRET,
    tls: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    data: { seed: 31, counts: { Investigate: 150, Detect: 50 } },
  });
  proxy = await startTinyproxy(tmp('sa-proxy-'), { user: 'agent', password: PROXY_PASSWORD });
});
afterAll(async () => {
  await proxy?.stop();
  await emu?.close();
});

const written: string[] = []; // every directory a run wrote to, searched for secrets at the end
const outputs: AgentResult[] = [];
function setup() {
  const dir = tmp('sa-px-');
  written.push(dir);
  const out = join(dir, 'out.json');
  // the HTTPS emulator's url is https://127.0.0.1:PORT/; use localhost so the certificate's DNS name matches too
  const config = emu.configFile(dir);
  return { dir, out, args: ['--config', config, '-o', 'FILE', '-f', out, '--format', 'json', '--severity', 'all', '--log_file', join(dir, 'agent.log'), '-d'] };
}
async function run(args: string[], env?: NodeJS.ProcessEnv) {
  // start from an environment without any proxy variables, then add the test's own
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy', 'NO_PROXY', 'no_proxy']) delete clean[k];
  const r = await runAgent(args, { env: { ...clean, ...env }, replaceEnv: true });
  outputs.push(r);
  return r;
}

describe('TLS trust', () => {
  it('refuses the API\'s private certificate without --ca_file', async () => {
    const s = setup();
    const res = await run(s.args);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/TLS verification failed .*--ca_file/);
  });
  it('trusts it with --ca_file', async () => {
    const s = setup();
    const res = await run([...s.args, '--ca_file', certs.ca]);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(200);
  });
  it('trusts it with NODE_EXTRA_CA_CERTS', async () => {
    const s = setup();
    const res = await run(s.args, { NODE_EXTRA_CA_CERTS: certs.ca });
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(200);
  });
  it('--insecure skips verification, and warns', async () => {
    const s = setup();
    const res = await run([...s.args, '--insecure']);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/--insecure: the API's TLS certificate is NOT verified/);
  });
});

describe('through a real proxy with basic auth', () => {
  it('--proxy host:port with -u/-p tunnels HTTPS through CONNECT', async () => {
    const s = setup();
    const before = proxy.log().length;
    const res = await run([...s.args, '--ca_file', certs.ca, '--proxy', `127.0.0.1:${proxy.port}`, '-u', 'agent', '-p', PROXY_PASSWORD]);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(s.out).length).toBe(200);
    expect(proxy.log().slice(before)).toMatch(/CONNECT/);
  });
  it('a wrong proxy password is a clear 407 error', async () => {
    const s = setup();
    const res = await run([...s.args, '--ca_file', certs.ca, '--proxy', `http://127.0.0.1:${proxy.port}`, '-u', 'agent', '-p', 'wrong-password']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/proxy refused the credentials \(40[17] Proxy Authentication Required\).*-u\/-p/);
  });
  it('HTTPS_PROXY (with credentials in the URL) is honoured when --proxy is absent', async () => {
    const s = setup();
    const before = proxy.log().length;
    const res = await run([...s.args, '--ca_file', certs.ca], { HTTPS_PROXY: `http://agent:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}` });
    expect(res.code, res.stderr).toBe(0);
    expect(proxy.log().slice(before)).toMatch(/CONNECT/);
  });
  it('NO_PROXY bypasses it', async () => {
    const s = setup();
    const before = proxy.log().length;
    const res = await run([...s.args, '--ca_file', certs.ca], { HTTPS_PROXY: `http://agent:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`, NO_PROXY: '127.0.0.1,localhost' });
    expect(res.code, res.stderr).toBe(0);
    expect(proxy.log().slice(before)).not.toMatch(/CONNECT/);
  });
});

describe('secrets', () => {
  it('a wrong key, a 401, a status and a bundle with -d', async () => {
    const s = setup();
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ api_server: emu.url, tenant: 'acme', key_id: 'test-key-id', key_secret: `${SECRET}-WRONG` }));
    chmodSync(bad, 0o600);
    const res = await run([...s.args.map((a) => (a.endsWith('config.json') ? bad : a)), '--ca_file', certs.ca, '--state_dir', s.dir]);
    expect(res.code).toBe(1);
    await run(['status', '--config', join(s.dir, 'config.json')]);
    await run(['check', '--config', join(s.dir, 'config.json'), '--ca_file', certs.ca, '-o', 'FILE', '-f', s.out, '-d']);
    const b = await run(['bundle', '--config', join(s.dir, 'config.json'), '--log_file', join(s.dir, 'agent.log'), '--out_file', join(s.dir, 'bundle.tar.gz')]);
    expect(b.code).toBe(0);
  });

  it('never appear in output, logs, state files, status, bundles or error messages of any run above', () => {
    const basicAuth = Buffer.from(`test-key-id:${SECRET}`).toString('base64');
    const needles = [SECRET, PROXY_PASSWORD, basicAuth, Buffer.from(`agent:${PROXY_PASSWORD}`).toString('base64')];
    const hay: Array<[string, string]> = outputs.map((o, i) => [`run ${i}`, o.stdout + o.stderr]);
    for (const dir of written) {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (!statSync(p).isFile() || f === 'config.json' || f === 'bad.json') continue;
        if (f.endsWith('.tar.gz')) {
          hay.push([p, gunzipSync(readFileSync(p)).toString('latin1')]);
        } else hay.push([p, readFileSync(p, 'latin1')]);
      }
    }
    expect(hay.length).toBeGreaterThan(20);
    for (const [where, text] of hay) for (const n of needles) expect(text.includes(n), `secret found in ${where}`).toBe(false);
  });
});
