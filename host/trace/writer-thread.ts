// The trace writer's own thread: it writes the chunks the recorders hand it to disk, so the disk
// is written while the application's turn runs, however long that turn is. One thread serves
// every recording of the process. Chunks come as transferred ArrayBuffers in messages on a port
// this thread reads synchronously (receiveMessageOnPort) whenever the shared bell rings, and go
// back the same way once written, for the recorder to fill again. See writer.ts for the other side.
import fs from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Bell, Stat, writeBlocksSync } from './writer-io.js';
import type { Compression } from './format.js';

export type ToThread =
  | { type: 'writer'; id: number; path: string; pos: number; stats: SharedArrayBuffer; compression: Compression }
  | { type: 'block'; id: number; buf: ArrayBuffer; len: number }
  | { type: 'rotate'; id: number; path: string; pre: Uint8Array; remove: string | null }
  | { type: 'close'; id: number }
  /** The process is exiting: answer on the bell once everything posted before is written. */
  | { type: 'exit' };
/** On the port chunks come back by (read synchronously by the recorder's thread). */
export type Returned = { id: number; buf: ArrayBuffer };
/** On parentPort (the event loop). */
export type FromThread =
  | { type: 'error'; id: number; message: string; code?: string }
  | { type: 'closed'; id: number };

interface File {
  id: number;
  fd: number;
  pos: number;
  stats: Float64Array;
  compression: Compression;
  failed: boolean;
}

const { bell, port, back } = workerData as { bell: Int32Array; port: MessagePort; back: MessagePort };
const files = new Map<number, File>();

function fail(f: File, err: unknown): void {
  if (f.failed) return;
  f.failed = true;
  const e = err as NodeJS.ErrnoException;
  parentPort!.postMessage({ type: 'error', id: f.id, message: e?.message ?? String(err), code: e?.code } satisfies FromThread);
}

function closeFile(f: File): void {
  if (f.fd >= 0) try { fs.closeSync(f.fd); } catch (e) { fail(f, e); }
  f.fd = -1;
}

/** Writes `blocks` (consecutive chunks of one file) in one system call where it can. */
function write(f: File, blocks: { buf: ArrayBuffer; len: number }[]): void {
  if (f.fd >= 0) {
    try {
      const n = writeBlocksSync(f.fd, f.pos, blocks.map((b) => new Uint8Array(b.buf, 0, b.len)), f.compression);
      f.pos += n;
      f.stats[Stat.Written] += n;
    } catch (e) {
      fail(f, e);
    }
  }
  for (const b of blocks) {
    f.stats[Stat.Consumed] += b.len;
    back.postMessage({ id: f.id, buf: b.buf } satisfies Returned, [b.buf]);
  }
}

function handle(batch: ToThread[]): void {
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i];
    if (m.type === 'exit') {
      for (const f of files.values()) closeFile(f);
      files.clear();
      Atomics.add(bell, Bell.Flushed, 1);
      Atomics.notify(bell, Bell.Flushed);
      continue;
    }
    if (m.type === 'writer') {
      // The recorder wrote the preamble: the blocks go after it.
      const f: File = { id: m.id, fd: -1, pos: m.pos, stats: new Float64Array(m.stats), compression: m.compression, failed: false };
      files.set(m.id, f);
      try { f.fd = fs.openSync(m.path, 'r+'); } catch (e) { fail(f, e); }
      continue;
    }
    const f = files.get(m.id);
    if (f === undefined) continue;
    if (m.type === 'block') {
      const run = [m];
      while (run.length < 64 && i + 1 < batch.length) {
        const n = batch[i + 1];
        if (n.type !== 'block' || n.id !== m.id) break;
        run.push(n);
        i++;
      }
      write(f, run);
    } else if (m.type === 'rotate') {
      closeFile(f);
      if (m.remove !== null) fs.rmSync(m.remove, { force: true });
      try {
        f.fd = fs.openSync(m.path, 'w');
        fs.writeSync(f.fd, m.pre, 0, m.pre.length, 0);
        f.pos = m.pre.length;
        f.stats[Stat.Written] += m.pre.length;
      } catch (e) {
        fail(f, e);
      }
    } else {
      closeFile(f);
      files.delete(f.id);
      parentPort!.postMessage({ type: 'closed', id: f.id } satisfies FromThread);
    }
  }
}

for (;;) {
  const rung = Atomics.load(bell, Bell.Rung);
  const batch: ToThread[] = [];
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) batch.push(m.message as ToThread);
  if (batch.length > 0) handle(batch);
  else Atomics.wait(bell, Bell.Rung, rung);
}
