// The entry point that scripts/build.mjs bundles into dist/siem-agent.cjs, which bin/siem-agent loads.

/** Runs the command line (src/cli.ts); loaded on call, like pullParts, so neither pays for the other. */
export function cli(argv: string[]): void {
  void import('./cli.js').then((m) => m.cli(argv));
}

/**
 * For the bench's pull limit (scripts/bench.mjs): the agent's own HTTP stack and page parser, so
 * the floor it measures pays exactly what the agent pays to read pages, and no more.
 */
export async function pullParts() {
  const { Agent, request } = await import('./source/undici.js');
  const { parseBody } = await import('./source/page-json.js');
  return { Agent, request, parseBody };
}
