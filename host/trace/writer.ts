// The trace's file writer, on the recorder's side. The recorder encodes records straight into
// chunks of shared memory; full chunks are published in a ring that a thread of our own
// (writer-thread.ts) writes to disk. The application's thread never waits for the disk, and the
// disk keeps being written while it runs, even through a long synchronous turn (a loop of writes
// that never yields would otherwise leave asynchronous disk writes no turn to be issued in).
//
// Chunks are reused once written, so a recording in steady state touches no new memory. When the
// disk falls behind by more than the recorder's `maxPending` (or the ring is full), the recorder
// stops and says so; the application is never slowed down.
//
// What has not reached the disk when the process exits is written synchronously from an 'exit'
// listener: the thread is asked to stop after its current write, and the main thread writes the
// rest at the place the thread reached.
import fs from 'node:fs';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { COMPRESSION_NAMES, Compression, type TraceHeader } from './format.js';
import { CHUNK, Ctl, CtlF64, ENTRY_ROTATE, ENTRY_WORDS, controlOf, newControl, preamble, writeBlocksSync } from './writer-io.js';
import type { FromThread, ToThread } from './writer-thread.js';

/** What workerData carries to the writer's thread (register.ts stays out of that thread). */
export const WRITER_THREAD = 'wasinetTraceWriter';

interface Thread {
  worker: Worker;
  port: MessagePort;
  bell: Int32Array;
  /** Closes waiting for the thread: while there are any, it keeps the process alive. */
  waiting: number;
}

let thread: Thread | null = null;
let nextId = 1;
const writers = new Map<number, TraceWriter>();

function writerThread(): Thread {
  if (thread !== null) return thread;
  const bell = new Int32Array(new SharedArrayBuffer(8)); // [0] rung, [1] the thread has started
  const { port1, port2 } = new MessageChannel();
  // No inherited execArgv: `--import wasinet/register` must not run again in this thread.
  const worker = new Worker(new URL('./writer-thread.js', import.meta.url), {
    workerData: { bell, port: port2, [WRITER_THREAD]: true }, transferList: [port2], execArgv: [],
  });
  const t: Thread = { worker, port: port1, bell, waiting: 0 };
  worker.on('message', (m: FromThread) => writers.get(m.id)?.onThread(m));
  const lost = (err: Error): void => {
    if (thread === t) thread = null;
    for (const w of [...writers.values()]) w.rescue(err);
  };
  worker.on('error', lost);
  worker.on('exit', (code) => lost(new Error(`wasinet: the trace writer's thread exited (${code})`)));
  // After the listeners: adding a 'message' listener refs the worker's port again.
  worker.unref();
  port1.unref();
  thread = t;
  return t;
}

function ring(t: Thread): void {
  Atomics.add(t.bell, 0, 1);
  Atomics.notify(t.bell, 0);
}

let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => { for (const w of [...writers.values()]) w.finishSync(); });
}

export class TraceWriter {
  readonly #id = nextId++;
  readonly #compression: Compression;
  readonly #t: Thread;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #entries: number;
  /** Chunks of shared memory, by number, and the numbers free to fill. */
  readonly #buffers: Buffer[] = [];
  readonly #free: number[] = [];
  readonly #cap: number;
  /** The chunk each published entry holds (-1: none), by entry number modulo the ring. */
  readonly #chunkOf: Int32Array;
  #head = 0;
  /** Entries whose chunks are back in #free. */
  #reclaimed = 0;
  /** The chunk handed out by chunk() and not yet pushed. */
  #current = -1;
  #published = 0;
  #error: Error | null = null;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #done = false;

  /**
   * Opens `path` at once (an unwritable path throws here, not later). `maxPending`: how many
   * bytes may wait for the disk; the ring holds that many chunks and a few more.
   */
  constructor(path: string, header: TraceHeader, compression: Compression, maxPending: number) {
    this.#compression = compression;
    const fd = fs.openSync(path, 'w');
    const pre = preamble(header, compression);
    try {
      fs.writeSync(fd, pre, 0, pre.length, 0);
      this.#t = writerThread();
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.#cap = Math.max(4, Math.floor(maxPending / CHUNK) + 3);
    const sab = newControl(this.#cap + 256);
    ({ i32: this.#i32, f64: this.#f64, entries: this.#entries } = controlOf(sab));
    this.#chunkOf = new Int32Array(this.#entries);
    this.#i32[Ctl.Fd] = fd;
    this.#f64[CtlF64.Pos] = pre.length;
    this.#f64[CtlF64.Written] = pre.length;
    writers.set(this.#id, this);
    this.#post({ type: 'writer', id: this.#id, ctl: sab, compression });
    hookExit();
  }

  #post(m: ToThread): void {
    this.#t.port.postMessage(m);
  }

  /** Bytes published and not yet on disk. */
  get pendingBytes(): number {
    return this.#published - this.#f64[CtlF64.Consumed];
  }

  /** Bytes on disk so far, over every segment. */
  get written(): number {
    return this.#f64[CtlF64.Written];
  }

  get error(): Error | null {
    return this.#error;
  }

  /** Chunks (and ring entries) still to be had after the one being filled. */
  get spare(): number {
    this.#reclaim();
    const entries = this.#entries - (this.#head - Atomics.load(this.#i32, Ctl.Tail)) - 1;
    return Math.min(this.#free.length + this.#cap - this.#buffers.length, entries);
  }

  #reclaim(): void {
    const tail = Atomics.load(this.#i32, Ctl.Tail);
    for (; this.#reclaimed < tail; this.#reclaimed++) {
      const c = this.#chunkOf[this.#reclaimed % this.#entries];
      if (c >= 0) this.#free.push(c);
    }
  }

  /** A chunk of CHUNK bytes to fill, then hand to push(). */
  chunk(): Buffer {
    this.#reclaim();
    let c = this.#free.pop();
    if (c === undefined) {
      if (this.#buffers.length >= this.#cap) {
        // Nothing left (the recorder stops before this): a stand-in that push() drops.
        this.#current = -1;
        return Buffer.allocUnsafe(CHUNK);
      }
      c = this.#buffers.length;
      const sab = new SharedArrayBuffer(CHUNK);
      this.#buffers.push(Buffer.from(sab));
      this.#post({ type: 'buffer', id: this.#id, index: c, sab });
    }
    this.#current = c;
    return this.#buffers[c];
  }

  /** Publishes the first `len` bytes of the chunk chunk() gave as one block. */
  push(buf: Buffer, len: number): void {
    const c = this.#current;
    this.#current = -1;
    if (c < 0 || buf !== this.#buffers[c]) return;
    if (this.#done || this.#closed !== null || len === 0 || !this.#publish(len, c, 0)) this.#free.push(c);
  }

  #publish(len: number, chunk: number, flags: number): boolean {
    if (this.#head - Atomics.load(this.#i32, Ctl.Tail) >= this.#entries) return false;
    const slot = this.#head % this.#entries;
    const e = Ctl.Entries + slot * ENTRY_WORDS;
    this.#i32[e] = len;
    this.#i32[e + 1] = chunk;
    this.#i32[e + 2] = flags;
    this.#chunkOf[slot] = chunk;
    this.#head++;
    this.#published += len;
    Atomics.store(this.#i32, Ctl.Head, this.#head);
    ring(this.#t);
    return true;
  }

  /** After the blocks published so far: closes this file and goes on in `path` (removing `remove`). */
  rotate(path: string, header: TraceHeader, remove: string | null): void {
    if (this.#done || this.#closed !== null) return;
    this.#post({ type: 'rotate', id: this.#id, path, pre: preamble(header, this.#compression), remove });
    this.#publish(0, -1, ENTRY_ROTATE);
  }

  /** Writes what is published and closes the file; resolves once that is done. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = new Promise((r) => { this.#resolveClosed = r; });
    if (this.#done) { this.#resolveClosed!(); return this.#closed; }
    if (this.#t.waiting++ === 0) this.#t.worker.ref();
    Atomics.store(this.#i32, Ctl.Close, 1);
    ring(this.#t);
    return this.#closed;
  }

  /** A message from the thread. */
  onThread(m: FromThread): void {
    if (m.type === 'error') {
      this.#error ??= Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code });
      return;
    }
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    writers.delete(this.#id);
    if (this.#closed !== null && --this.#t.waiting === 0) this.#t.worker.unref();
    this.#resolveClosed?.();
  }

  /** The thread is gone: write the rest here, at once. */
  rescue(err: Error): void {
    this.#error ??= err;
    this.#writeRest();
    this.#finish();
  }

  /**
   * The process is exiting: the thread stops after its current write, and every block it has
   * not written goes into the current file from here, at once (rotations still to come are
   * skipped: their blocks go to the current file).
   */
  finishSync(): void {
    if (this.#done) return;
    Atomics.store(this.#i32, Ctl.Stop, 1);
    ring(this.#t);
    // A thread that has not started yet will stop before it writes anything. A block being
    // written when the wait gives up is written again, at the same place (the same bytes).
    if (Atomics.load(this.#t.bell, 1) === 1) Atomics.wait(this.#i32, Ctl.Halted, 0, 5000);
    this.#writeRest();
    this.#finish();
  }

  #writeRest(): void {
    const i32 = this.#i32;
    const fd = i32[Ctl.Fd];
    i32[Ctl.Fd] = -1;
    if (fd < 0) return;
    const blocks: Buffer[] = [];
    for (let n = Atomics.load(i32, Ctl.Tail); n < this.#head; n++) {
      const e = Ctl.Entries + (n % this.#entries) * ENTRY_WORDS;
      if (i32[e] > 0 && (i32[e + 2] & ENTRY_ROTATE) === 0) blocks.push(this.#buffers[i32[e + 1]].subarray(0, i32[e]));
    }
    try {
      const bytes = writeBlocksSync(fd, this.#f64[CtlF64.Pos], blocks, this.#compression);
      this.#f64[CtlF64.Written] += bytes;
    } catch {
      // Nothing more can be done while exiting.
    }
    try { fs.closeSync(fd); } catch { /* already closed */ }
  }
}

export function compressionOf(name: string | undefined): Compression {
  if (name === undefined || name === 'none') return Compression.None;
  const i = COMPRESSION_NAMES.indexOf(name as never);
  if (name === 'gzip') return Compression.Deflate;
  if (i < 0) throw new TypeError(`record.compression must be 'none', 'deflate' (or 'gzip') or 'brotli', not ${name}`);
  return i as Compression;
}
