// The node backends' callbacks in the event loop's own phases (host/backend/backend.ts):
// closePhase runs a callback where a closed handle's runs, pendingPhase where libuv completes a
// write that did not finish in its call. socket.ts orders a long writev's completion and a
// 'close' by them, so their places are checked here against the loop's other callbacks: ticks,
// microtasks, immediates, timers. (CI runs this file on both node backends: libuv's handles, and
// node:net's public API with WASINET_BACKEND=public.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodenet from 'node:net';
import * as wasinet from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';

type Phased = { pendingPhase?(fn: () => void): void; closePhase?(fn: () => void): void };

function backend(): Required<Phased> {
  const b = stackOf(wasinet.createStack({})).backend as Phased;
  assert.equal(typeof b.pendingPhase, 'function', 'the node backend has pendingPhase');
  assert.equal(typeof b.closePhase, 'function', 'the node backend has closePhase');
  return b as Required<Phased>;
}

/** Busy for `ms`, so a 0 ms timer set before is due by the next iteration. */
function spin(ms: number): void {
  const t = performance.now();
  while (performance.now() - t < ms);
}

/** Runs `fn` from an I/O callback (a node:net socket's 'data'), resolving with the log once it settles. */
async function fromIoCallback(fn: (log: string[]) => void): Promise<string[]> {
  const log: string[] = [];
  const server = nodenet.createServer((s) => s.end('x'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = nodenet.connect((server.address() as nodenet.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => {
    c.once('data', () => {
      fn(log);
      setTimeout(resolve, 30);
    });
  });
  c.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return log;
}

test('pendingPhase from an I/O callback: after its ticks and microtasks, before the check phase (even an immediate queued before it)', async () => {
  const b = backend();
  const log = await fromIoCallback((l) => {
    setImmediate(() => l.push('immediate queued before'));
    b.pendingPhase(() => l.push('pending'));
    process.nextTick(() => { l.push('tick'); Promise.resolve().then(() => l.push('microtask from the tick')); });
    Promise.resolve().then(() => { l.push('microtask'); process.nextTick(() => l.push('tick from the microtask')); });
    l.push('sync');
  });
  assert.deepEqual(log, ['sync', 'tick', 'microtask', 'microtask from the tick', 'tick from the microtask', 'pending', 'immediate queued before']);
});

test('pendingPhase from a check-phase callback: after the next iteration\'s due timers, before its check phase', async () => {
  const b = backend();
  const log: string[] = [];
  await new Promise<void>((resolve) => {
    setImmediate(() => {
      setTimeout(() => log.push('timer'), 0);
      setImmediate(() => log.push('immediate queued before'));
      b.pendingPhase(() => log.push('pending'));
      spin(3);
      setTimeout(resolve, 30);
    });
  });
  assert.deepEqual(log, ['timer', 'pending', 'immediate queued before']);
});

test('closePhase from a check-phase callback: after the rest of that check phase, before the next iteration\'s timers; the last closed first', async () => {
  const b = backend();
  const log: string[] = [];
  await new Promise<void>((resolve) => {
    setImmediate(() => {
      setTimeout(() => log.push('timer'), 0);
      b.closePhase(() => log.push('closed first'));
      b.closePhase(() => log.push('closed second'));
      spin(3);
      setTimeout(resolve, 30);
    });
    setImmediate(() => log.push('immediate after it'));
  });
  assert.deepEqual(log, ['immediate after it', 'closed second', 'closed first', 'timer']);
});

test('pendingPhase from a close-phase callback: at the start of the next iteration, after its timers', async () => {
  const b = backend();
  const log: string[] = [];
  await new Promise<void>((resolve) => {
    setImmediate(() => {
      setTimeout(() => log.push('timer'), 0);
      b.closePhase(() => {
        log.push('close');
        b.pendingPhase(() => log.push('pending'));
        setImmediate(() => log.push('immediate'));
      });
      spin(3);
      setTimeout(resolve, 30);
    });
  });
  assert.deepEqual(log, ['close', 'timer', 'pending', 'immediate']);
});
