'use strict';
// The V8 flags bin/siem-agent sets at start (v8.setFlagsFromString, before the agent loads), and
// the bench's pull limit passes on its command line so that both run alike. CommonJS in old
// syntax, like bin/siem-agent. Only for the V8 versions they were measured on: a V8 that does not
// know a flag prints an error on stderr at every run (mail from cron).
// test/e2e/node-versions.test.ts checks them on each supported Node release.

/** The flags for V8 `version` (process.versions.v8), [] for one they were not measured on. */
exports.v8Flags = function v8Flags(version) {
  var major = Number(String(version).split('.')[0]);
  if (!(major >= 11 && major <= 14)) return [];
  // undici parses HTTP with llhttp compiled to WebAssembly. Once warm, V8 recompiles llhttp's
  // 33 KB state machine with its optimising compiler in the background, and the process waits
  // for that at exit: measured 177 ms of CPU and 35 MB of peak RSS on every run (Node 20; on
  // Node 24 196 ms and a 23 MB compile zone), for a parser that reads a few large bodies per
  // run. The baseline compiler's code is fast enough, so tier-up is limited to a function index
  // no module has (V8 allows 1,000,000 functions, numbered from 0): V8 then emits the baseline
  // code without tier-up checks. Not --liftoff-only: set at run time, Node 24's V8 ignores that
  // one (measured: TurboFan still ran). V8 11-14 (Node 20-26) have this flag.
  var flags = ['--wasm-tier-up-filter=1000000'];
  // V8 11 (Node 20) hands a function to its optimising compiler after ~66 KB of its bytecode has
  // run; four times that spares a short run (most cron runs) compiles that would not pay off:
  // 5,000 logs 0.465 -> 0.40 s of CPU, 20,000 logs 0.79 -> 0.76 s (alternating runs). V8 12+
  // tier up differently (Maglev); raising their thresholds showed no clear gain.
  if (major === 11) flags.push('--interrupt-budget=270336');
  return flags;
};
