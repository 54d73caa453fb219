import type { RunOptions } from '../options.js';
import type { Output } from './types.js';

/** Output name → factory. Loaded lazily so a run pays only for the transport it uses. */
export async function openOutput(o: Pick<RunOptions, 'output' | 'dryRun' | 'reconnectS' | 'rate'>, warn?: (msg: string) => void): Promise<Output> {
  const spec = o.dryRun ? ({ kind: 'STREAM', stream: 'STDOUT' } as const) : o.output;
  let out: Output;
  switch (spec.kind) {
    case 'FILE':
      out = (await import('./file.js')).fileOutput(spec, warn);
      break;
    case 'STREAM':
      out = (await import('./stream.js')).streamOutput(spec.stream);
      break;
    case 'SYSLOG':
      out = (await import('./syslog.js')).syslogOutput(spec.socketPath, spec.facility, o.reconnectS * 1000, o.rate);
      break;
    case 'REMOTE':
      out = (await import('./remote.js')).remoteOutput(spec, o.reconnectS * 1000);
      break;
  }
  await out.open();
  return out;
}
