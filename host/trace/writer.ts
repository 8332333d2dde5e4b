// The trace's file writer, on the recorder's side. The recorder encodes records straight into
// 1 MiB chunks; each full chunk is transferred (not copied) to a thread of our own
// (writer-thread.ts) that writes it to disk and hands it back to be filled again. The
// application's thread never waits for the disk, and the disk keeps being written while it
// runs, even through a long synchronous turn (a loop of writes that never yields would leave
// asynchronous disk writes no turn to be issued or completed in).
//
// Chunks are plain ArrayBuffers, not shared memory: V8 copies into a SharedArrayBuffer element
// by element, which made encoding the payloads several times slower than memcpy. Chunks come back
// on a port read synchronously, so a recording in steady state reuses the same few chunks and
// touches no new memory. When the disk falls behind by more than `maxPending` bytes (or every
// chunk allowed is out), the recorder stops and says so; the application is never slowed down.
//
// At exit the main thread waits (a few seconds at most) until the thread has written everything
// handed to it so far and closed the files.
import fs from 'node:fs';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { COMPRESSION_NAMES, Compression, type TraceHeader } from './format.js';
import { Bell, CHUNK, Stat, preamble } from './writer-io.js';
import type { FromThread, Returned, ToThread } from './writer-thread.js';

import { WRITER_THREAD } from './format.js';
/** How long an exiting process waits for the thread to write what it holds. */
const EXIT_WAIT_MS = 10_000;

interface Thread {
  worker: Worker;
  port: MessagePort;
  back: MessagePort;
  bell: Int32Array;
  /** Closes waiting for the thread: while there are any, it keeps the process alive. */
  waiting: number;
}

let thread: Thread | null = null;
let nextId = 1;
const writers = new Map<number, TraceWriter>();

function writerThread(): Thread {
  if (thread !== null) return thread;
  const bell = new Int32Array(new SharedArrayBuffer(Bell.Size * 4));
  const to = new MessageChannel();
  const back = new MessageChannel();
  // No inherited execArgv: `--import wasinet/register` must not run again in this thread.
  const worker = new Worker(new URL('./writer-thread.js', import.meta.url), {
    workerData: { bell, port: to.port2, back: back.port2, [WRITER_THREAD]: true },
    transferList: [to.port2, back.port2], execArgv: [],
  });
  const t: Thread = { worker, port: to.port1, back: back.port1, bell, waiting: 0 };
  worker.on('message', (m: FromThread) => writers.get(m.id)?.onThread(m));
  const lost = (err: Error): void => {
    if (thread === t) thread = null;
    for (const w of [...writers.values()]) w.lost(err);
  };
  worker.on('error', lost);
  worker.on('exit', (code) => lost(new Error(`wasinet: the trace writer's thread exited (${code})`)));
  // After the listeners: adding a 'message' listener refs the worker's port again.
  worker.unref();
  to.port1.unref();
  back.port1.unref();
  thread = t;
  return t;
}

function post(t: Thread, m: ToThread, transfer?: ArrayBuffer[]): void {
  t.port.postMessage(m, transfer);
  Atomics.add(t.bell, Bell.Rung, 1);
  Atomics.notify(t.bell, Bell.Rung);
}

/** Chunks the thread has written, back to their writers. */
function takeBack(t: Thread): void {
  for (let m = receiveMessageOnPort(t.back); m !== undefined; m = receiveMessageOnPort(t.back)) {
    const r = m.message as Returned;
    writers.get(r.id)?.returned(r.buf);
  }
}

/**
 * Waits (EXIT_WAIT_MS at most) until the thread wrote everything handed to it so far and closed
 * every file: the process is ending (its exit, or a signal that ends it).
 */
export function drainWriters(): void {
  const t = thread;
  if (t === null || writers.size === 0) return;
  const flushed = Atomics.load(t.bell, Bell.Flushed);
  post(t, { type: 'exit' });
  Atomics.wait(t.bell, Bell.Flushed, flushed, EXIT_WAIT_MS);
}

let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', drainWriters);
}

export class TraceWriter {
  readonly #id = nextId++;
  readonly #compression: Compression;
  readonly #t: Thread;
  readonly #stats = new Float64Array(new SharedArrayBuffer(Stat.Size * 8));
  /** Chunks written and back, ready to fill. */
  readonly #free: Buffer[] = [];
  /** Chunks this writer may have at once (filling, queued, being written). */
  readonly #cap: number;
  #chunks = 0;
  #published = 0;
  #error: Error | null = null;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #done = false;

  /**
   * Opens `path` at once (an unwritable path throws here, not later). `maxPending`: how many
   * bytes may wait for the disk; the writer has that many chunks and a few more.
   */
  constructor(path: string, header: TraceHeader, compression: Compression, maxPending: number) {
    this.#compression = compression;
    // Written here, so an unwritable path throws now; the thread opens the file again (on Deno a
    // file descriptor is a resource of one thread, not the process's).
    const pre = preamble(header, compression);
    fs.writeFileSync(path, pre);
    this.#t = writerThread();
    this.#cap = Math.max(4, Math.floor(maxPending / CHUNK) + 3);
    this.#stats[Stat.Written] = pre.length;
    writers.set(this.#id, this);
    post(this.#t, { type: 'writer', id: this.#id, path, pos: pre.length, stats: this.#stats.buffer as SharedArrayBuffer, compression });
    hookExit();
  }

  /** Bytes handed to the thread and not yet on disk. */
  get pendingBytes(): number {
    return this.#published - this.#stats[Stat.Consumed];
  }

  /** Bytes on disk so far, over every segment. */
  get written(): number {
    return this.#stats[Stat.Written];
  }

  get error(): Error | null {
    return this.#error;
  }

  /** Chunks still to be had after the one being filled. */
  get spare(): number {
    takeBack(this.#t);
    return this.#free.length + this.#cap - this.#chunks;
  }

  /** A chunk the thread wrote, back. */
  returned(buf: ArrayBuffer): void {
    this.#free.push(Buffer.from(buf));
  }

  /** A chunk of CHUNK bytes to fill, then hand to push(). */
  chunk(): Buffer {
    takeBack(this.#t);
    const b = this.#free.pop();
    if (b !== undefined) return b;
    if (this.#chunks < this.#cap) this.#chunks++;
    // Beyond the cap (the recorder stops before it gets there) a chunk is still made.
    return Buffer.from(new ArrayBuffer(CHUNK));
  }

  /** Hands the first `len` bytes of a chunk from chunk() to the thread, as one block. */
  push(buf: Buffer, len: number): void {
    if (this.#done || this.#closed !== null || len === 0) { this.#free.push(buf); return; }
    this.#published += len;
    post(this.#t, { type: 'block', id: this.#id, buf: buf.buffer as ArrayBuffer, len }, [buf.buffer as ArrayBuffer]);
  }

  /** After the blocks pushed so far: closes this file and goes on in `path` (removing `remove`). */
  rotate(path: string, header: TraceHeader, remove: string | null): void {
    if (this.#done || this.#closed !== null) return;
    post(this.#t, { type: 'rotate', id: this.#id, path, pre: preamble(header, this.#compression), remove });
  }

  /** Writes what was pushed and closes the file; resolves once that is done. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = new Promise((r) => { this.#resolveClosed = r; });
    if (this.#done) { this.#resolveClosed!(); return this.#closed; }
    if (this.#t.waiting++ === 0) this.#t.worker.ref();
    post(this.#t, { type: 'close', id: this.#id });
    return this.#closed;
  }

  /** A message from the thread. */
  onThread(m: FromThread): void {
    if (m.type !== 'error') { this.#finish(); return; }
    if (this.#error !== null) return;
    this.#error = Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code });
    // Nothing more reaches the file; the application goes on, told once (close() rejects with it).
    process.emitWarning(`wasinet: writing the trace failed, recording stopped: ${m.message}`);
  }

  /** The thread is gone: what it held is lost, and the error says so. */
  lost(err: Error): void {
    this.#error ??= err;
    this.#finish();
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    writers.delete(this.#id);
    if (this.#closed !== null && --this.#t.waiting === 0) this.#t.worker.unref();
    this.#resolveClosed?.();
  }
}

export function compressionOf(name: string | undefined): Compression {
  if (name === undefined || name === 'none') return Compression.None;
  const i = COMPRESSION_NAMES.indexOf(name as never);
  if (name === 'gzip') return Compression.Deflate;
  if (i < 0) throw new TypeError(`record.compression must be 'none', 'deflate' (or 'gzip') or 'brotli', not ${name}`);
  return i as Compression;
}
