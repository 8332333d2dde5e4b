// `wasinet replay FILE`: replays a trace on a fresh core with no network and checks that every
// command and event matches; on a divergence prints the first one with its context, exits 1.
import { replay, formatDivergence, coreDigest } from './core/trace.js';
import { coreBytes } from './core/wasm.js';
import { writeFileSync } from 'node:fs';
import { timelineHtml } from './trace/timeline.js';

const USAGE = `usage: wasinet replay FILE [--html OUT.html]
       wasinet run PLUGIN.wasm [options] [-- plugin args]   (wasinet run --help)

Replays a trace recorded with createStack({ record: FILE }) on a fresh core, with no network,
and checks that every command and event the core issues matches the recording.
--html writes a timeline of the recording (format 2) to OUT.html: one self-contained page.
Exit status: 0 identical, 1 diverged, 2 usage or unreadable trace.`;

export async function main(argv: string[]): Promise<number> {
  // `wasinet run PLUGIN.wasm …` (host/cli/run.ts): runs a plugin.
  if (argv[0] === 'run') return (await import('./cli/run.js')).run(argv.slice(1));
  const html = argv.indexOf('--html');
  const out = html > 0 ? argv[html + 1] : undefined;
  const [cmd, file] = html > 0 ? argv.filter((_, i) => i !== html && i !== html + 1) : argv;
  if (cmd !== 'replay' || !file || (html > 0 && !out)) {
    console.error(USAGE);
    return 2;
  }
  let result;
  try {
    result = replay(file);
  } catch (err) {
    console.error(`wasinet replay: ${(err as Error).message}`);
    return 2;
  }
  const current = coreDigest(coreBytes());
  if (result.header.core !== current) {
    console.error(`note: recorded with core ${String(result.header.core).slice(0, 19)}…, replaying with ${current.slice(0, 19)}…`);
  }
  if (out) {
    const d = result.divergence;
    try {
      writeFileSync(out, timelineHtml(file, d ? { seq: (d.record ?? d.line) - 1, title: `replay diverged at input ${d.record ?? d.line}`, detail: formatDivergence(d) } : null));
      console.log(`timeline written to ${out}`);
    } catch (err) {
      console.error(`wasinet replay --html: ${(err as Error).message}`);
      return 2;
    }
  }
  if (result.ok) {
    console.log(`replay identical: ${result.inputs} inputs, every output and state digest matched`);
    if (result.ending === 'open') {
      console.log('note: the trace has no end mark: its recorder was not closed (the process exited or was killed with it open, or is still recording); it holds what reached the file until then');
    } else if (result.ending === 'stopped') {
      console.log(`note: the recording stopped early: ${result.stopped}`);
    }
    return 0;
  }
  console.log(formatDivergence(result.divergence!));
  return 1;
}
