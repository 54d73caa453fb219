// Every bad flag and config value: what the user sees (README "Bad input" table). One line, exit 1,
// nothing fetched, nothing written to the state.
import { writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { runAgent, tmp } from '../helpers/agent.js';

let emu: Emulator;
beforeAll(async () => { emu = await startEmulator({ data: { counts: { Investigate: 10, Detect: 10 } } }); });
afterAll(() => emu.close());

// a file that looks like a PEM certificate and is not one (TLS would skip it without a word)
const DAMAGED_PEM = join(tmp('sa-pem-'), 'damaged.pem');
writeFileSync(DAMAGED_PEM, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');

export const BAD_FLAGS: Array<[string[], RegExp]> = [
  [['--elastica_app', 'both'], /--elastica_app: unknown value "both"; valid values: Investigate, Detect/],
  [['--severity', 'urgent'], /--severity: unknown value "urgent"; valid values: error, critical, warning, informational, high, medium, low, all/],
  [['-o', 'KAFKA'], /-o\/--output: unknown value "KAFKA"; valid values: SYSLOG, REMOTE, STREAM, FILE/],
  [['-o', 'FILE'], /-o FILE needs -f\/--filename PATH/],
  [['-o', 'STREAM', '-s', 'STDIN'], /-s\/--stream: unknown value "STDIN"; valid values: STDOUT, STDERR/],
  [['-o', 'REMOTE', '--socket_type', 'SCTP'], /--socket_type: unknown value "SCTP"; valid values: UDP, TCP, TLS/],
  [['-o', 'REMOTE', '-t', 'host:99999'], /-t\/--target: must be between 1 and 65535, got 99999/],
  [['-o', 'REMOTE', '--framing', 'octet'], /--framing octet applies to TCP and TLS only/],
  [['-o', 'REMOTE', '--syslog_header', 'rfc9999'], /--syslog_header: unknown value "rfc9999"; valid values: rfc3164, rfc5424, none/],
  [['--facility', 'local9'], /--facility: unknown value "local9"; valid values: kern, user/],
  [['--format', 'xml'], /--format: unknown value "xml"; valid values: cef, leef, json/],
  [['--siem', 'elastic'], /--siem: unknown value "elastic"; valid values: arcsight, qradar, splunk/],
  [['--max_logs', '0'], /--max_logs: must be between 1 and/],
  [['--max_logs', 'ten'], /--max_logs: expected a whole number, got "ten"/],
  [['--start_date', '2026-02-30'], /--start_date: expected a day as YYYY-MM-DD, got "2026-02-30"/],
  [['--start_date', '2999-01-01'], /--start_date: 2999-01-01 is in the future/],
  [['--rate', '-5'], /--rate: expected a number greater than 0, got "-5"/],
  [['--max_message_size', '100'], /--max_message_size: must be 0 \(no limit\) or at least 512, got 100/],
  [['--page_size', '5000'], /--page_size: must be between 1 and 1000, got 5000/],
  [['-p', 'secret'], /-p\/--proxy_password needs -u\/--proxy_user/],
  [['--proxy', 'ftp://proxy:21'], /--proxy: unsupported scheme ftp:/],
  // a raw # in the password: refused without showing it (the line is checked for it below)
  [['--proxy', 'http://agent:pa#ss@proxy:3128'], /^siem-agent: --proxy http:\/\/\*\*\*@proxy:3128: not host:port or a URL \(write a % \/ \? # or @ in its user or password as %25 %2F %3F %23 %40\)$/m],
  [['--proxy', 'http://agent:77#ss@proxy:3128'], /^siem-agent: --proxy http:\/\/\*\*\*@proxy:3128: a proxy is host:port or http:\/\/\[user:password@\]host:port, nothing after the port \(write a % \/ \? # or @ in its user or password as %25 %2F %3F %23 %40\)$/m],
  [['--ingest_delay', 'ten'], /--ingest_delay: expected a whole number, got "ten"/],
  [['--ingest_delay', '90000'], /--ingest_delay: must be between 0 and 86400, got 90000/],
  [['--ca_file', '/nonexistent.pem'], /--ca_file \/nonexistent.pem: cannot read \(ENOENT\)/],
  [['--ca_file', DAMAGED_PEM], /--ca_file .*damaged\.pem: a certificate in it cannot be read \(damaged PEM\)/],
  [['--max_runtime', '9999999'], /--max_runtime: at most 2147483 seconds \(24\.8 days\), got "9999999"/],
  [['--log_format', 'xml'], /--log_format: unknown value "xml"; valid values: text, json/],
  [['--bogus'], /unknown option '--bogus'/],
];

export const BAD_CONFIGS: Array<[string, string, RegExp]> = [
  ['not JSON', '{"api_server": "https://x/",', /not valid JSON/],
  ['an array', '[]', /expected a JSON object with api_server, tenant, key_id, key_secret/],
  ['no api_server', '{"tenant":"t","key_id":"k","key_secret":"s"}', /missing key "api_server"/],
  ['api_server not a URL', '{"api_server":"api-vip","tenant":"t","key_id":"k","key_secret":"s"}', /"api_server" is not a URL/],
  ['api_server with credentials', '{"api_server":"https://u:p@x/","tenant":"t","key_id":"k","key_secret":"s"}', /must not hold credentials/],
  ['empty tenant', '{"api_server":"https://x/","tenant":"","key_id":"k","key_secret":"s"}', /key "tenant" must be a non-empty string/],
  ['tenant with a slash', '{"api_server":"https://x/","tenant":"a/b","key_id":"k","key_secret":"s"}', /"tenant" must not contain/],
  ['numeric key_id', '{"api_server":"https://x/","tenant":"t","key_id":5,"key_secret":"s"}', /key "key_id" must be a non-empty string/],
  ['no secret', '{"api_server":"https://x/","tenant":"t","key_id":"k"}', /missing key "key_secret"/],
];

describe('bad flags: one line naming the flag and the valid values, exit 1, nothing fetched', () => {
  it.each(BAD_FLAGS)('%s', async (flags, msg) => {
    const dir = tmp('sa-bad-');
    const n0 = emu.requests.length;
    // STREAM unless the case is about the output: the tests never touch the host's /dev/log
    const out = flags.includes('-o') ? [] : ['-o', 'STREAM'];
    const res = await runAgent(['--config', emu.configFile(dir), '--log_file', join(dir, 'a.log'), ...out, ...flags]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(msg);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).not.toMatch(/pa#ss|77#ss/);
    expect(emu.requests.length).toBe(n0);
    expect(existsSync(join(dir, 'export_log.state'))).toBe(false);
  });
});

describe('-u with no proxy at all (cron passes on no login shell\'s HTTPS_PROXY)', () => {
  it('is refused in one line rather than dropped', async () => {
    const dir = tmp('sa-bad-');
    const none = { HTTPS_PROXY: '', https_proxy: '', HTTP_PROXY: '', http_proxy: '' };
    const res = await runAgent(['--config', emu.configFile(dir), '--log_file', join(dir, 'a.log'), '-o', 'STREAM', '-u', 'agent', '-p', 'pw'], { env: none });
    expect(res.code).toBe(1);
    expect(res.stderr.trim()).toBe("siem-agent: -u/--proxy_user: no proxy to use it with (give --proxy, or HTTPS_PROXY/HTTP_PROXY in the environment; cron does not pass on a login shell's)");
  });
});

describe('bad config values: one line naming the file and the key, exit 1', () => {
  it.each(BAD_CONFIGS)('%s', async (_what, content, msg) => {
    const dir = tmp('sa-badcfg-');
    const p = join(dir, 'config.json');
    writeFileSync(p, content);
    chmodSync(p, 0o600);
    const res = await runAgent(['--config', p, '-o', 'STREAM', '--log_file', join(dir, 'a.log')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`config ${p}`);
    expect(res.stderr).toMatch(msg);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });
  it('the vendor\'s ey_secret spelling is accepted', async () => {
    const dir = tmp('sa-ey-');
    const p = join(dir, 'config.json');
    writeFileSync(p, JSON.stringify({ api_server: emu.url.replace(/\/$/, ''), tenant: 'acme', key_id: 'test-key-id', ey_secret: 'test-key-secret', extra: 1 }));
    chmodSync(p, 0o600);
    const res = await runAgent(['--config', p, '-o', 'FILE', '-f', join(dir, 'o'), '--log_file', join(dir, 'a.log')]);
    expect(res.code, res.stderr).toBe(0);
  });
});
