// An event listener that throws, in an unmodified program, with and without wasinet/register
// (tests/host/apps/throwing-listener.ts). With no handler for uncaught exceptions Node prints
// where the exception was thrown — file:line, that line, a caret — above the error: the
// listener's line on node:net, and so on wasinet (the core lets a listener's exception go on from
// where it was thrown; caught and thrown again, it named core.js as the place). With an
// 'uncaughtException' handler the program goes on, and sees the same events after it as on
// node:net.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const app = join(root, 'build/tests/host/apps/throwing-listener.js');

function run(hooked: boolean, which: string, handled: boolean, env: Record<string, string> = {}) {
  const args = [...(hooked ? ['--import', 'wasinet/register'] : []), app, which, ...(handled ? ['handled'] : [])];
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, SAY_NET: '1', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What Node prints above the error's stack: where it was thrown, that line, the caret, then the error's first line. */
function header(stderr: string): string {
  return stderr.split('\n').slice(0, 5).join('\n');
}

const LISTENERS = ['connect', 'data', 'end', 'close', 'write', 'connection', 'listening', 'error', 'unhandled-error'];

for (const which of LISTENERS) {
  test(`a throwing ${which} listener: the uncaught exception is printed as on node:net`, () => {
    const plain = run(false, which, false);
    const hooked = run(true, which, false);
    assert.equal(plain.stdout, 'node:net\n');
    assert.equal(hooked.stdout, 'wasinet\n');
    assert.equal(plain.status, 1, plain.stderr);
    assert.equal(hooked.status, 1, hooked.stderr);
    const expected = header(plain.stderr);
    // node:net names the listener's own line (an 'error' event with no listener: events.js's throw).
    if (which === 'unhandled-error') assert.match(expected, /^node:events:\d+\n\s+throw er; \/\/ Unhandled 'error' event/);
    else assert.match(expected, new RegExp(`^file://${app.replaceAll('/', '\\/')}:\\d+\\n.*throw new Error\\('thrown by the`));
    assert.equal(header(hooked.stderr), expected, hooked.stderr);
  });
}

for (const which of LISTENERS.filter((w) => w !== 'unhandled-error')) {
  test(`a throwing ${which} listener with an uncaughtException handler: the same events follow as on node:net`, () => {
    const plain = run(false, which, true);
    const hooked = run(true, which, true);
    assert.equal(plain.status, 0, plain.stderr);
    assert.equal(hooked.status, 0, hooked.stderr);
    assert.match(plain.stdout, /uncaught: thrown by the/);
    assert.equal(hooked.stdout.replace(/^wasinet\n/, ''), plain.stdout.replace(/^node:net\n/, ''));
    assert.ok(hooked.stdout.startsWith('wasinet\n'));
  });
}

// A replay of the application delivers the transport's events from a message to a port of its
// own (app-replay.ts): Node's EventTarget would catch an exception thrown there and throw it again.
for (const which of ['data', 'close', 'connection']) {
  test(`a throwing ${which} listener, recorded and replayed: the replay prints the exception as node:net does`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'wasinet-uncaught-'));
    try {
      const trace = join(dir, 'run.trace');
      const recorded = run(true, which, false, { WASINET_RECORD: trace });
      const replayed = run(true, which, false, { WASINET_REPLAY: trace });
      const expected = header(run(false, which, false).stderr);
      assert.equal(recorded.status, 1, recorded.stderr);
      assert.equal(header(recorded.stderr), expected);
      assert.equal(replayed.status, 1, replayed.stderr);
      assert.doesNotMatch(replayed.stderr, /replay diverged/);
      assert.equal(header(replayed.stderr), expected, replayed.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
