// The trace writer's own thread: it writes the blocks the recorder publishes in a shared ring to
// disk, so the disk is written while the application's turn runs, however long that turn is.
// One thread serves every recording of the process. It sleeps on a shared bell (Atomics.wait)
// and takes what comes with each ring (the chunks' memory, rotations) from a message port it
// reads synchronously. See writer.ts for the other side.
import fs from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Ctl, CtlF64, ENTRY_ROTATE, ENTRY_WORDS, controlOf, writeBlocksSync } from './writer-io.js';
import type { Compression } from './format.js';

export type ToThread =
  | { type: 'writer'; id: number; ctl: SharedArrayBuffer; compression: Compression }
  | { type: 'buffer'; id: number; index: number; sab: SharedArrayBuffer }
  | { type: 'rotate'; id: number; path: string; pre: Uint8Array; remove: string | null };
export type FromThread =
  | { type: 'error'; id: number; message: string; code?: string }
  | { type: 'closed'; id: number };

interface Ring {
  id: number;
  i32: Int32Array;
  f64: Float64Array;
  entries: number;
  compression: Compression;
  buffers: Uint8Array[];
  rotations: { path: string; pre: Uint8Array; remove: string | null }[];
  failed: boolean;
}

const { bell, port } = workerData as { bell: Int32Array; port: MessagePort };
const rings = new Map<number, Ring>();

function take(m: ToThread): void {
  if (m.type === 'writer') {
    const { i32, f64, entries } = controlOf(m.ctl);
    rings.set(m.id, { id: m.id, i32, f64, entries, compression: m.compression, buffers: [], rotations: [], failed: false });
    return;
  }
  const r = rings.get(m.id);
  if (r === undefined) return;
  if (m.type === 'buffer') r.buffers[m.index] = new Uint8Array(m.sab);
  else r.rotations.push({ path: m.path, pre: m.pre, remove: m.remove });
}

function drain(): void {
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) take(m.message as ToThread);
}

function fail(r: Ring, err: unknown): void {
  if (r.failed) return;
  r.failed = true;
  const e = err as NodeJS.ErrnoException;
  parentPort!.postMessage({ type: 'error', id: r.id, message: e?.message ?? String(err), code: e?.code } satisfies FromThread);
}

function rotate(r: Ring): void {
  // Its message was posted before the entry was published, so it is in the port by now.
  if (r.rotations.length === 0) drain();
  const next = r.rotations.shift();
  const fd = r.i32[Ctl.Fd];
  if (fd >= 0) try { fs.closeSync(fd); } catch (e) { fail(r, e); }
  r.i32[Ctl.Fd] = -1;
  if (next === undefined) return;
  if (next.remove !== null) fs.rmSync(next.remove, { force: true });
  try {
    const nfd = fs.openSync(next.path, 'w');
    fs.writeSync(nfd, next.pre, 0, next.pre.length, 0);
    r.i32[Ctl.Fd] = nfd;
    r.f64[CtlF64.Pos] = next.pre.length;
    r.f64[CtlF64.Written] += next.pre.length;
  } catch (e) {
    fail(r, e);
  }
}

/** Writes what ring `r` has published; false when it had nothing to do. */
function service(r: Ring): boolean {
  const { i32, f64 } = r;
  if (Atomics.load(i32, Ctl.Stop) === 1) {
    // The process is exiting: its main thread writes the rest itself, once we have stopped.
    rings.delete(r.id);
    Atomics.store(i32, Ctl.Halted, 1);
    Atomics.notify(i32, Ctl.Halted);
    return false;
  }
  const closing = Atomics.load(i32, Ctl.Close) === 1; // read before Head: the last entries came before it
  const head = Atomics.load(i32, Ctl.Head);
  const tail = i32[Ctl.Tail];
  if (tail === head) {
    if (!closing) return false;
    const fd = i32[Ctl.Fd];
    i32[Ctl.Fd] = -1;
    if (fd >= 0) try { fs.closeSync(fd); } catch (e) { fail(r, e); }
    rings.delete(r.id);
    Atomics.store(i32, Ctl.Halted, 1); // an exit from here on finds nothing left to wait for
    Atomics.notify(i32, Ctl.Halted);
    parentPort!.postMessage({ type: 'closed', id: r.id } satisfies FromThread);
    return true;
  }
  const at = (n: number): number => Ctl.Entries + (n % r.entries) * ENTRY_WORDS;
  if ((i32[at(tail) + 2] & ENTRY_ROTATE) !== 0) {
    rotate(r);
    Atomics.store(i32, Ctl.Tail, tail + 1);
    return true;
  }
  // Every block up to the next rotation (at most 64) in one write.
  const blocks: Uint8Array[] = [];
  let raw = 0;
  let end = tail;
  while (end < head && blocks.length < 64) {
    const e = at(end);
    if ((i32[e + 2] & ENTRY_ROTATE) !== 0) break;
    const len = i32[e];
    let buf = r.buffers[i32[e + 1]];
    if (buf === undefined) { drain(); buf = r.buffers[i32[e + 1]]; }
    if (buf !== undefined && len > 0) blocks.push(buf.subarray(0, len));
    raw += len;
    end++;
  }
  const fd = i32[Ctl.Fd];
  if (fd >= 0 && blocks.length > 0) {
    try {
      const n = writeBlocksSync(fd, f64[CtlF64.Pos], blocks, r.compression);
      f64[CtlF64.Pos] += n;
      f64[CtlF64.Written] += n;
    } catch (e) {
      fail(r, e);
    }
  }
  f64[CtlF64.Consumed] += raw;
  Atomics.store(i32, Ctl.Tail, end);
  return true;
}

Atomics.store(bell, 1, 1); // started: an exit from here on waits for this thread to stop
for (;;) {
  const rung = Atomics.load(bell, 0);
  drain();
  let busy = false;
  for (const r of rings.values()) if (service(r)) busy = true;
  if (!busy) Atomics.wait(bell, 0, rung);
}
