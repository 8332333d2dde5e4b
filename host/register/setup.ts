// What `wasinet/register` sets up in the process it is loaded into (register.cts loads it):
// the default stack — the one behind every `net` import the hook redirects — recording to
// WASINET_RECORD or replaying WASINET_REPLAY (an application replay: the process runs offline on
// the recording; a divergence is reported on stderr — and as a timeline in WASINET_REPLAY_HTML —
// and ends the process with status 1).
import { Stack, setDefaultStack, flushAtExit } from '../net/stack.js';
import { createNodeBackend } from '../backend/load.js';
import { coreBytes } from '../core/wasm.js';
import { writeFileSync } from 'node:fs';
import { formatAppDivergence } from '../trace/divergence.js';
import { lazy } from '../lazy.js';

export function setup(env: NodeJS.ProcessEnv = process.env): void {
  const record = env.WASINET_RECORD;
  const replay = env.WASINET_REPLAY;
  if (record && replay) throw new Error('wasinet/register: WASINET_RECORD and WASINET_REPLAY together');
  if (record) {
    const backend = createNodeBackend();
    // WASINET_RECORD_OPTIONS: the rest of createStack's record options, as JSON (compression, maxBytes, maxMs, keep …).
    const more = env.WASINET_RECORD_OPTIONS ? JSON.parse(env.WASINET_RECORD_OPTIONS) as object : {};
    // %p is the process id: the processes of one program (a cluster, forked workers) inherit
    // WASINET_RECORD and would otherwise write one file over each other.
    const rec = lazy('./trace/record.js').startRecording({ ...more, path: record.replaceAll('%p', String(process.pid)) }, coreBytes('release.wasm'), backend);
    setDefaultStack(new Stack(backend, { inputTap: rec.inputTap, tap: rec.tap }));
    // Ahead of the writer's own exit hook: the last records and the end mark reach the file too.
    // The stacks' batched writes leave first (stack.ts does that at exit too, later): they are inputs.
    process.prependListener('exit', () => {
      flushAtExit();
      void rec.recorder.close().catch(() => {});
    });
  } else if (replay) {
    const wait = Number(env.WASINET_REPLAY_WAIT) || undefined;
    // WASINET_REPLAY_SPEED=1: the transport's events at the recorded pace (a program whose own
    // timers run long: a keepalive every 30 s), 2 twice as fast …; default as fast as it goes.
    const speed = Number(env.WASINET_REPLAY_SPEED) > 0 ? Number(env.WASINET_REPLAY_SPEED) : undefined;
    // WASINET_REPLAY_TIMERS=0: the program's setTimeout and setInterval on the wall clock (by
    // default they go by the recording's: trace/timers.ts).
    const timers = env.WASINET_REPLAY_TIMERS !== '0';
    const { AppReplayer, ReplayBackend } = lazy('./trace/app-replay.js');
    const replayer = new AppReplayer({
      path: replay, wait, speed, timers,
      onDivergence: (d) => {
        // The application stops here: what it would do next is not in the recording.
        const text = formatAppDivergence(d);
        process.stderr.write(text + '\n');
        // WASINET_REPLAY_HTML=out.html: the timeline of the recording, the divergence marked.
        const html = env.WASINET_REPLAY_HTML;
        if (html) writeFileSync(html, lazy('./trace/timeline.js').timelineHtml(replay, { seq: d.seq, title: `application replay diverged at input ${d.seq + 1}`, detail: text }));
        process.exit(1);
      },
    });
    setDefaultStack(new Stack(new ReplayBackend(replayer), { inputTap: replayer }));
    process.on('exit', () => {
      const at = replayer.position;
      if (process.exitCode !== 1) {
        const open = replayer.closed ? '' : '; the recording has no end mark: its process was stopped (or exited) there with the recorder open';
        process.stderr.write(replayer.finished
          ? `wasinet replay: the application followed the recording (${at} inputs)${open}\n`
          : `wasinet replay: the process ended at input ${at} of ${replayer.total}\n`);
      }
    });
  }
}
