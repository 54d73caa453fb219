import { describe, expect, it } from 'vitest';
import { buildRunOptions, type RawFlags } from '../src/cli-options.js';
import { redactArgv, splitList } from '../src/flags.js';
import { redactUserinfo } from '../src/redact.js';
import { syslogHost } from '../src/output/framing.js';

const defaults: RawFlags = {
  config: './config.json', output: 'SYSLOG', stream: 'STDERR', max_bytes: '0', backup_count: '0', socket_type: 'UDP',
  syslog_header: 'rfc3164', framing: 'lf', facility: 'user', max_runtime: '540', ingest_delay: '60', request_timeout: '30', reconnect_timeout: '30',
  retries: '5', page_size: '1000', log_file: '/tmp/x.log', log_format: 'text',
};
const opts = (f: Partial<RawFlags>) => buildRunOptions({ ...defaults, ...f }, []);

describe('flag parsing', () => {
  it('multi-value flags take both forms', () => {
    expect(splitList(['error', 'critical'])).toEqual(['error', 'critical']);
    expect(splitList(['error,critical'])).toEqual(['error', 'critical']);
    expect(splitList(['Yahoo Mail,Box'])).toEqual(['Yahoo Mail', 'Box']);
    expect(opts({ severity: ['error,CRITICAL', 'high'] }).severity).toEqual(['error', 'critical', 'high']);
  });
  it('apps in any case, each once', () => {
    expect(opts({ elastica_app: ['INVESTIGATE', 'detect', 'Investigate'] }).apps).toEqual(['Investigate', 'Detect']);
    expect(opts({}).apps).toEqual(['Investigate', 'Detect']);
  });
  it('defaults per output: rate and max message size', () => {
    // rsyslog's default 8096 bytes hold the whole message: the header, then the event
    const room = (header: string) => 8096 - Buffer.byteLength(header);
    const host = syslogHost();
    expect(opts({})).toMatchObject({ rate: 30, maxMessageSize: room(`<15>Nov 26 07:00:00 siem-agent[${process.pid}]: `), format: 'cef' });
    expect(opts({ output: 'REMOTE' })).toMatchObject({ rate: 1000, maxMessageSize: room(`<15>Nov 26 07:00:00 ${host} siem-agent[${process.pid}]: `) });
    expect(opts({ output: 'REMOTE', syslog_header: 'rfc5424' }).maxMessageSize).toBe(room(`<15>1 2026-11-26T07:00:00.000Z ${host} siem-agent ${process.pid} - - `));
    expect(opts({ output: 'REMOTE', syslog_header: 'none' }).maxMessageSize).toBe(8096);
    expect(opts({ output: 'REMOTE', socket_type: 'tcp' })).toMatchObject({ rate: undefined });
    expect(opts({ output: 'FILE', filename: '/tmp/o' })).toMatchObject({ rate: undefined, maxMessageSize: 0 });
    // a dry run prints to stdout: the local daemon's pace does not apply, unless asked for
    expect(opts({ dry_run: true })).toMatchObject({ rate: undefined });
    expect(opts({ dry_run: true, rate: '50' })).toMatchObject({ rate: 50 });
  });
  it('--siem picks the format; a contradicting --format is an error', () => {
    expect(opts({ siem: 'QRadar' }).format).toBe('leef');
    expect(opts({ siem: 'splunk' }).format).toBe('json');
    expect(() => opts({ siem: 'splunk', format: 'cef' })).toThrow(/contradicts/);
  });
  it('the proxy password is redacted from the argv kept in last_job.status', () => {
    expect(redactArgv(['-u', 'me', '-p', 'pw', '--proxy', 'http://me:secret@proxy:3128', '--proxy_password=x'])).toEqual(['-u', 'me', '-p', '***', '--proxy', 'http://***@proxy:3128', '--proxy_password=***']);
  });

  it('every way commander takes the proxy password is redacted: attached, clustered, a URL or host:port with userinfo', () => {
    expect(redactArgv(['-pS3cret', '-dpS3cret', '-cd', '-dp', 'S3cret', '-u', 'me'])).toEqual(['-p***', '-dp***', '-cd', '-dp', '***', '-u', 'me']);
    expect(redactArgv(['--proxy', 'me:S3cret@proxy:3128', '--proxy=http://me:p@S3cret@proxy:3128', '--proxy_password', 'S3cret']))
      .toEqual(['--proxy', '***@proxy:3128', '--proxy=http://***@proxy:3128', '--proxy_password', '***']);
    // values of other flags are left alone, even when they start like -p
    expect(redactArgv(['-o', 'FILE', '-f', '/var/log/out.cef'])).toEqual(['-o', 'FILE', '-f', '/var/log/out.cef']);
  });

  it('redactUserinfo masks up to the last @ of all, with or without a scheme', () => {
    expect(redactUserinfo('http://a:b@c@host:1/x')).toBe('http://***@host:1/x');
    // a raw # or ? in a password: masking more than the userinfo is the safe side
    expect(redactUserinfo('http://a:b#c?d@host:1')).toBe('http://***@host:1');
    expect(redactUserinfo('http://a:b@host:1/x?y=@z')).toBe('http://***@z');
    expect(redactUserinfo('a:b@host:1')).toBe('***@host:1');
    expect(redactUserinfo('https://api.example/')).toBe('https://api.example/');
  });
});
