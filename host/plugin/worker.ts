// A plugin's worker thread: its own stack (with the plugin's policy and limits) and its guest.
//
// The thread reports to its parent by messages (output, exit) and by a shared array the parent
// reads without waiting for this thread: slot 0 holds the wall-clock time at which the guest
// call under way started (0 when the guest is not running), which is how the parent's watchdog
// sees a guest that never returns; the other slots are the usage counters.
import { parentPort, workerData } from 'node:worker_threads';
import { createStack } from '../net/create.js';
import { runGuest, type GuestConfig } from './guest.js';
import { USAGE_SLOTS, type GuestRuntime, type PluginExit } from './runtime.js';

export interface WorkerInit extends GuestConfig {
  module: WebAssembly.Module;
  shared: SharedArrayBuffer;
  stack: Parameters<typeof createStack>[0];
}

const init = workerData as WorkerInit;
const slots = new Float64Array(init.shared);
const port = parentPort!;
const net = createStack(init.stack);
let rt: GuestRuntime | null = null;

function publish(): void {
  if (!rt) return;
  USAGE_SLOTS.forEach((k, i) => { slots[i + 1] = rt!.usage[k]; });
}

function exited(result: PluginExit): void {
  slots[0] = 0;
  publish();
  // Let the stack carry out the closes that end() asked for before the parent ends the thread.
  // The trace (format 2 writes asynchronously) is complete on disk before the parent hears of the exit.
  setImmediate(() => {
    const closing = net.recorder?.close() ?? Promise.resolve();
    closing.catch(() => {}).finally(() => port.postMessage({ type: 'exit', result }));
  });
}

port.on('message', (msg: { type: string }) => {
  if (msg.type === 'stop') rt?.end({ reason: 'stopped', code: 0, message: 'stopped by the host' });
});

rt = runGuest(init.module, net, init, {
  output: (fd, bytes) => port.postMessage({ type: 'out', fd, bytes: Uint8Array.from(bytes) }),
  enter: () => { slots[0] = Date.now(); },
  leave: () => { slots[0] = 0; publish(); },
  exited,
});
