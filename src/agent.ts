// The entry point that scripts/build.mjs bundles into dist/siem-agent.cjs, which bin/siem-agent loads.
export { cli } from './cli.js';

/**
 * For the bench's pull limit (scripts/bench.mjs): the agent's own HTTP stack and page parser, so
 * the floor it measures pays exactly what the agent pays to read pages. Loaded on call, so the
 * agent's commands do not pay for it.
 */
export async function pullParts() {
  const { Agent, request } = await import('./source/undici.js');
  const { parseBody } = await import('./source/page-json.js');
  return { Agent, request, parseBody };
}
