// Runs the differential scenarios (tests/host/diff/) inside whatever runtime executes this file
// — Node, Deno or Bun — and prints one JSON object on stdout: scenario name → its normalised
// event log, or { error } when the scenario threw or timed out. tests/host/runtimes.test.ts
// spawns it on each runtime and compares the logs with node:net's on Node.
//
//   <runtime> build/tests/runtimes/diff-runner.js builtin|wasinet [name substring]
//
// `builtin`: the library under test and its peer are the runtime's own node:net (Node's real
// one, or Deno's and Bun's emulations of it). `wasinet`: both are wasinet on the runtime's
// default backend (Deno's, Bun's or Node's own socket API): the peer is the same library, as in
// the simulated runs (diff-sim.test.ts), because a peer in another process would need every
// scenario's far side rewritten as messages; a fault of the backend on the peer side still
// changes the log, so it cannot hide.
import builtinNet from 'node:net';
import wasinet from '../../host/index.js';
import { runScenario, type NetLike, type Scenario } from '../host/diff/harness.js';
import { socketScenarios } from '../host/diff/scenarios-socket.js';
import { connectScenarios } from '../host/diff/scenarios-connect.js';
import { socketIoScenarios } from '../host/diff/scenarios-socket-io.js';
import { serverScenarios } from '../host/diff/scenarios-server.js';

export const groups: [string, Scenario[]][] = [
  ['socket', socketScenarios], ['socket connect', connectScenarios], ['socket io', socketIoScenarios], ['server', serverScenarios],
];

export type RunnerResult = Record<string, string[] | { error: string }>;

async function main(): Promise<void> {
  const args = typeof Deno !== 'undefined' ? Deno.args : process.argv.slice(2);
  const lib = args[0] === 'builtin' ? builtinNet : wasinet as unknown as NetLike;
  const filter = args[1] ?? '';
  const out: RunnerResult = {};
  // An error nobody listens for (an 'error' event without a listener) fails the scenario that
  // was running, not the whole run.
  let current = '';
  const stray: Record<string, string> = {};
  process.on('uncaughtException', (err) => { stray[current] ??= `uncaught: ${String((err as Error)?.stack ?? err).slice(0, 1500)}`; });
  for (const [group, list] of groups) {
    for (const s of list) {
      const key = `${group}: ${s.name}`;
      if (!key.includes(filter)) continue;
      current = key;
      try {
        // Some scenarios name things after the process id: the same text in every runtime.
        out[key] = (await runScenario(s, lib, lib)).map((line) => line.replaceAll(String(process.pid), 'PID'));
      } catch (err) {
        out[key] = { error: String((err as Error)?.stack ?? err).slice(0, 2000) };
      }
      if (stray[key]) out[key] = { error: stray[key] };
    }
  }
  // One write, then exit: a scenario that left a handle open must not keep the runner alive.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

declare const Deno: { args: string[] } | undefined;
void main();
