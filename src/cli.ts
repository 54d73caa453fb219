import { urlPasswords } from './redact.js';
import { redactArgv } from './flags.js';
import { Command, CommanderError, Option } from 'commander';
import type { StatusFlags } from './commands/status.js';
import type { BundleFlags } from './commands/bundle.js';
import { describe, exitCodeOf, InterruptedError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { buildRunOptions, type RawFlags } from './cli-options.js';
import { VERSION } from './version.js';

export const DEFAULT_LOG_FILE = '/var/log/siem-agent/siem_agent.log';
const STOP_GRACE_MS = 10_000;

/** The options of a delivery run; shared by the main command and `check`. */
function addRunOptions(c: Command): Command {
  return c
    .option('--config <path>', 'the API key file (config.json)', './config.json')
    .option('--state_dir <dir>', 'where export_log.state, export_log.lock and last_job.status live (default: the config file\'s directory)')
    .option('--elastica_app <apps...>', 'investigate, detect (default both)')
    .option('--severity <levels...>', 'error critical warning informational high medium low all')
    .option('--app <names...>', 'SaaS services (API "service"), case-sensitive')
    .option('--object_type <types...>', 'object types, case-sensitive')
    .option('--activity_type <types...>', 'activity types, case-sensitive')
    .option('--start_date <day>', 'start from this UTC day (YYYY-MM-DD), replacing the stored marker')
    .option('--max_logs <n>', 'logs per app per run (default 10000, 20000 on a large backlog)')
    .option('-c', 'clear the status (export_log.lock, last_job.status) before running')
    .option('-r', 'reset the marker and the status: start from the earliest log')
    .option('-d', 'debug logging')
    .option('-o, --output <kind>', 'SYSLOG, REMOTE, STREAM or FILE', 'SYSLOG')
    .option('-s, --stream <name>', 'STDOUT or STDERR (for STREAM)', 'STDERR')
    .option('-f, --filename <path>', 'output file (for FILE)')
    .option('--max_bytes <n>', 'FILE: rotate before the file reaches this size (with --backup_count)', '0')
    .option('--backup_count <n>', 'FILE: rotated files kept (PATH.1 newest)', '0')
    .option('-t, --target <where>', 'SYSLOG: socket path (default /dev/log); REMOTE: host:port (default localhost:514)')
    .option('--socket_type <type>', 'REMOTE: UDP, TCP or TLS', 'UDP')
    .option('--syslog_header <kind>', 'REMOTE: rfc3164, rfc5424 or none', 'rfc3164')
    .option('--framing <kind>', 'REMOTE TCP/TLS: lf or octet (RFC 6587)', 'lf')
    .option('--facility <name>', 'syslog facility', 'user')
    .option('--tls_ca <file>', 'REMOTE TLS: CA bundle that signed the receiver (default: system CAs)')
    .option('--tls_cert <file>', 'REMOTE TLS: client certificate')
    .option('--tls_key <file>', 'REMOTE TLS: client key')
    .option('--format <fmt>', 'cef, leef or json')
    .option('--siem <name>', 'arcsight (cef), qradar (leef) or splunk (json)')
    .option('--max_message_size <bytes>', 'shorten the longest values of larger events (default: what rsyslog takes with the header, ~8030, for syslog outputs; none for FILE/STREAM)')
    .option('--rate <n>', 'logs per second (default: 30 for SYSLOG, 1000 for UDP, unpaced otherwise)')
    .option('--max_runtime <seconds>', 'stop cleanly after this long', '540')
    .option('--ingest_delay <seconds>', 'deliver only logs created at least this long ago (the API shows a log once inserted, after it was created)', '60')
    .option('--request_timeout <seconds>', 'API connect/read timeout', '30')
    .option('--reconnect_timeout <seconds>', 'syslog TCP/TLS/socket: keep reconnecting this long before giving up', '30')
    .option('--retries <n>', 'API retries after the first attempt', '5')
    .option('--page_size <n>', 'logs per API page (1-1000)', '1000')
    .option('--proxy <proxy>', 'HTTP(S) proxy, host:port or URL (default: HTTPS_PROXY/HTTP_PROXY)')
    .option('-u, --proxy_user <user>', 'proxy user')
    .option('-p, --proxy_password <password>', 'proxy password')
    .option('--ca_file <file>', 'extra CA to trust for the API (TLS-inspecting proxy, private endpoint)')
    .option('--insecure', 'do not verify the API\'s TLS certificate (not recommended)')
    .option('--log_file <path>', 'the agent\'s own log', DEFAULT_LOG_FILE)
    .addOption(new Option('--customfile <path>', 'the old agent\'s name for --log_file').hideHelp())
    .option('--log_format <fmt>', 'text or json', 'text')
    .option('--heartbeat', 'send one event of the agent\'s own with the run summary at the end of each run')
    .option('--dry_run', 'fetch and format, print to stdout; never move the marker or the status');
}

// commander's "error: unknown option" read as every other flag error (subcommands copy this from
// their parent when they are made, so it is set before they are)
const OUTPUT = { writeErr: (s: string) => process.stderr.write(s.startsWith('error:') ? `siem-agent: ${s.slice(7)}` : s) };

function program(): Command {
  const p = addRunOptions(new Command('siem-agent').configureOutput(OUTPUT))
    .description('Pull CloudSOC Investigate/Detect logs and deliver them exactly once to a SIEM.')
    .version(VERSION, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show this help')
    .showSuggestionAfterError(true)
    // `siem-agent status --config X`: options after a subcommand belong to it
    .enablePositionalOptions();
  p.command('status')
    .description('per app: marker, lag, last run, lock holder; exit 1 if the last run failed or lag > --max_lag')
    .option('--config <path>', 'the API key file (its directory is the default state dir)', './config.json')
    .option('--state_dir <dir>', 'state directory')
    .option('--json', 'machine-readable output')
    .option('--max_lag <duration>', 'exit 1 when an app is further behind than this (e.g. 3600, 45m, 2h, 1d)')
    .action(async (opts: StatusFlags) => { exit = await (await import('./commands/status.js')).status(opts); });
  addRunOptions(p.command('check'))
    .description('validate the config, reach the API and the output; one OK/FAIL line per step')
    .action(async (opts: RawFlags) => { exit = await (await import('./commands/check.js')).check(opts); });
  p.command('bundle')
    .description('a tar.gz for support: agent logs, state, versions, last flags, config without secrets')
    .option('--config <path>', 'the API key file', './config.json')
    .option('--state_dir <dir>', 'state directory')
    .option('--log_file <path>', 'the agent\'s log', DEFAULT_LOG_FILE)
    .option('--date_from <day>', 'first day of logs to include (YYYY-MM-DD)')
    .option('--date_to <day>', 'last day of logs to include (YYYY-MM-DD)')
    .option('--out_file <path>', 'where to write the bundle (default ./siem-agent-bundle-<time>.tar.gz)')
    .action(async (opts: BundleFlags) => { exit = await (await import('./commands/bundle.js')).bundle(opts); });
  return p;
}

let exit: number | undefined;

async function main(argv: string[]): Promise<number> {
  const p = program();
  let flags: RawFlags | undefined;
  p.action((opts: RawFlags) => {
    flags = opts;
  });
  p.exitOverride();
  try {
    await p.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) {
      process.stderr.write(`siem-agent: ${describe(e)}\n`);
      return exitCodeOf(e);
    }
    return e.exitCode === 0 ? 0 : 1; // commander already printed help, version or its one-line error
  }
  if (exit !== undefined) return exit;
  if (!flags) return 0;
  const stderr = (line: string) => process.stderr.write(`${line}\n`);
  let log: Logger | undefined;
  try {
    const o = buildRunOptions(flags, argv);
    log = await createLogger({
      debug: o.debug, file: o.logFile, format: o.logFormat, stderr,
      verbose: process.stderr.isTTY === true,
    });
    log.addSecret(o.http.proxyPassword);
    const env = process.env;
    for (const v of [o.http.proxy, env.HTTPS_PROXY, env.https_proxy, env.HTTP_PROXY, env.http_proxy]) for (const pw of urlPasswords(v)) log.addSecret(pw);
    const stop = new AbortController();
    const logger = log;
    // Last resort against a hang nothing else can cut (measured: undici's CONNECT to a proxy that
    // never answers ignores timeouts and abort signals): once asked to stop, a run has STOP_GRACE_MS
    // to finish, then exits 1. The marker is consistent at any instant (atomic writes), so this loses nothing.
    const watchdog = (why: string, result: 'failed' | 'interrupted') => {
      setTimeout(() => {
        const msg = `${why}, but the run did not stop within ${STOP_GRACE_MS / 1000} s (a request or output hangs); forcing exit`;
        logger.error(`${msg}. Exiting!`);
        const lastWords = runModule?.lastWords?.(msg, result) ?? Promise.resolve();
        void Promise.race([Promise.all([lastWords, logger.close()]), new Promise((r) => setTimeout(r, 1000))]).then(() => process.exit(1));
      }, STOP_GRACE_MS).unref();
    };
    let runModule: typeof import('./run.js') | undefined;
    let signalled = false;
    const onSignal = (sig: string) => {
      // a second signal means "now": the marker is consistent at any instant (atomic writes)
      if (signalled) process.exit(1);
      signalled = true;
      logger.warn(`received ${sig}: stopping, checkpointing what was delivered`);
      stop.abort(new InterruptedError(`forcefully shut down (${sig})`));
      watchdog(`received ${sig}`, 'interrupted');
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
    runModule = await import('./run.js');
    const { run, Deadline } = runModule;
    setTimeout(() => {
      stop.abort(new Deadline('max_runtime'));
      watchdog(`reached --max_runtime ${o.maxRuntimeS} s`, 'failed');
    }, o.maxRuntimeS * 1000).unref();
    const result = await run(o, log, stop);
    return result.exitCode;
  } catch (e) {
    const msg = describe(e);
    if (log) log.error(msg.endsWith('.') ? msg : `${msg}. Exiting!`);
    else stderr(`siem-agent: ${msg}`);
    return exitCodeOf(e);
  } finally {
    await log?.close();
  }
}

export function cli(argv: string[]): void {
  // a password on the command line is in /proc/PID/cmdline for every local user; the title
  // overwrites that memory (Linux), from here on (README: prefer SIEM_AGENT_PROXY_PASSWORD)
  const masked = redactArgv(argv);
  if (masked.some((a, i) => a !== argv[i])) process.title = ['siem-agent', ...masked].join(' ');
  // stderr (and stdout, when it is not the output) carry diagnostics only: a reader that went away
  // (`2>&1 | head`, a restarted `| logger`) must not end the run with an unhandled EPIPE; the
  // agent's log still gets every line. The STREAM output watches its own stream's errors.
  process.stderr.on('error', () => undefined);
  process.stdout.on('error', () => undefined);
  // never a stack trace (it could carry a secret, and it is not one line): describe and exit 1
  process.on('unhandledRejection', (e) => {
    process.stderr.write(`siem-agent: internal error: ${describe(e)}\n`);
    process.exit(1);
  });
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      // last resort: never print a stack that could hold a secret, one line only
      process.stderr.write(`siem-agent: internal error: ${describe(e)}\n`);
      process.exit(1);
    },
  );
}

