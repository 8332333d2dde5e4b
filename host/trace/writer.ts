// The trace's file writer: blocks go to disk through asynchronous writes (libuv's thread pool),
// so recording never blocks the event loop on the disk. Blocks are written in order, one at a
// time, each at its own offset; compression (off by default) compresses each block on its own,
// also off the event loop. Rotation closes the current file after its blocks and opens the next.
//
// What has not reached the disk when the process exits is written synchronously from an 'exit'
// listener (a positional write of the same bytes again is harmless), so a process that ends
// without closing its recorder still leaves a complete trace.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { MAGIC, PREAMBLE, TRACE_VERSION_2, COMPRESSION_NAMES, Compression, type TraceHeader } from './format.js';

type Item =
  | { kind: 'block'; buf: Buffer; len: number }
  | { kind: 'open'; path: string; header: TraceHeader; remove: string | null }
  | { kind: 'close' };

function preamble(header: TraceHeader, compression: Compression): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const b = Buffer.alloc(PREAMBLE + json.length);
  b.write(MAGIC, 0, 'latin1');
  b[8] = TRACE_VERSION_2;
  b[9] = compression;
  b.writeUInt32LE(json.length, 12);
  json.copy(b, PREAMBLE);
  return b;
}

function blockHead(stored: number, raw: number): Buffer {
  const h = Buffer.allocUnsafe(8);
  h.writeUInt32LE(stored, 0);
  h.writeUInt32LE(raw, 4);
  return h;
}

const live = new Set<TraceWriter>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => { for (const w of [...live]) w.finishSync(); });
}

export class TraceWriter {
  readonly #compression: Compression;
  readonly #recycle: (buf: Buffer) => void;
  #fd: number;
  #pos: number;
  #queue: Item[] = [];
  #busy = false;
  #pendingBytes = 0;
  #written = 0;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #error: Error | null = null;
  /** Where the block being written starts, while its write is in flight (else -1). */
  #headAt = -1;

  /** Opens `path` at once (an unwritable path throws here, not later). */
  constructor(path: string, header: TraceHeader, compression: Compression, recycle: (buf: Buffer) => void) {
    this.#compression = compression;
    this.#recycle = recycle;
    this.#fd = fs.openSync(path, 'w');
    const pre = preamble(header, compression);
    fs.writeSync(this.#fd, pre, 0, pre.length, 0);
    this.#pos = pre.length;
    this.#written = pre.length;
    live.add(this);
    hookExit();
  }

  /** Bytes queued and not yet on disk. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Bytes on disk so far, over every segment. */
  get written(): number {
    return this.#written;
  }

  get error(): Error | null {
    return this.#error;
  }

  /** Queues `len` bytes of `buf` as one block; `buf` comes back through `recycle` once written. */
  push(buf: Buffer, len: number): void {
    if (this.#closed || len === 0) { this.#recycle(buf); return; }
    this.#queue.push({ kind: 'block', buf, len });
    this.#pendingBytes += len;
    this.#pump();
  }

  /** After the blocks queued so far: closes this file and goes on in `path` (removing `remove`). */
  rotate(path: string, header: TraceHeader, remove: string | null): void {
    if (this.#closed) return;
    this.#queue.push({ kind: 'open', path, header, remove });
    this.#pump();
  }

  /** Writes what is queued and closes the file. */
  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = new Promise((r) => { this.#resolveClosed = r; });
    this.#queue.push({ kind: 'close' });
    this.#pump();
    return this.#closed;
  }

  #fail(err: Error): void {
    this.#error ??= err;
  }

  #pump(): void {
    if (this.#busy) return;
    const item = this.#queue[0];
    if (item === undefined) return;
    this.#busy = true;
    const next = (): void => {
      this.#queue.shift();
      this.#busy = false;
      this.#pump();
    };
    if (item.kind === 'block' && this.#compression === Compression.None) {
      // Every block queued so far in one writev: the writer keeps pace with a recorder that
      // fills several blocks per turn of the event loop (one write per turn would fall behind,
      // and the recorder would then take fresh, never-touched chunks instead of recycled ones).
      const blocks: { buf: Buffer; len: number }[] = [];
      const iov: Buffer[] = [];
      for (const q of this.#queue) {
        if (q.kind !== 'block' || blocks.length === 64) break;
        blocks.push(q);
        iov.push(blockHead(q.len, q.len), q.buf.subarray(0, q.len));
      }
      const at = this.#pos;
      const bytes = blocks.reduce((n, b) => n + 8 + b.len, 0);
      this.#pos += bytes;
      this.#headAt = at;
      fs.writev(this.#fd, iov, at, (err) => {
        this.#headAt = -1;
        if (err) this.#fail(err);
        else this.#written += bytes;
        for (const b of blocks) {
          this.#pendingBytes -= b.len;
          this.#recycle(b.buf);
        }
        this.#queue.splice(0, blocks.length - 1);
        next();
      });
      return;
    }
    if (item.kind === 'block') {
      const { buf, len } = item;
      const write = (data: Buffer): void => {
        const head = blockHead(data.length, len);
        const at = this.#pos;
        this.#pos += 8 + data.length;
        this.#headAt = at;
        fs.writev(this.#fd, [head, data], at, (err) => {
          this.#headAt = -1;
          if (err) this.#fail(err);
          else this.#written += 8 + data.length;
          this.#pendingBytes -= len;
          this.#recycle(buf);
          next();
        });
      };
      if (this.#compression === Compression.None) write(buf.subarray(0, len));
      else this.#compress(buf.subarray(0, len), (err, out) => {
        if (err) { this.#fail(err); this.#pendingBytes -= len; this.#recycle(buf); next(); return; }
        write(out!);
      });
      return;
    }
    if (item.kind === 'open') {
      fs.close(this.#fd, () => {
        if (item.remove) fs.rm(item.remove, { force: true }, () => {});
        fs.open(item.path, 'w', (err, fd) => {
          if (err) {
            this.#fail(err);
            this.#fd = -1;
            this.#queue.length = 1; // nothing more can be written
            this.#queue.push({ kind: 'close' });
            next();
            return;
          }
          this.#fd = fd;
          const pre = preamble(item.header, this.#compression);
          this.#pos = pre.length;
          fs.write(fd, pre, 0, pre.length, 0, (e) => {
            if (e) this.#fail(e); else this.#written += pre.length;
            next();
          });
        });
      });
      return;
    }
    const done = (): void => {
      live.delete(this);
      this.#queue.length = 0;
      this.#busy = false;
      this.#resolveClosed?.();
    };
    if (this.#fd < 0) done();
    else fs.close(this.#fd, () => { this.#fd = -1; done(); });
  }

  #compress(data: Buffer, cb: (err: Error | null, out?: Buffer) => void): void {
    if (this.#compression === Compression.Deflate) zlib.deflateRaw(data, { level: 1 }, cb);
    else zlib.brotliCompress(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 3 } }, cb);
  }

  #compressSync(data: Buffer): Buffer {
    if (this.#compression === Compression.Deflate) return zlib.deflateRawSync(data, { level: 1 });
    return zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 3 } });
  }

  /**
   * The process is exiting: writes every block not yet on disk into the current file, at once.
   * Rotations still queued are skipped (their blocks go to the current file).
   */
  finishSync(): void {
    live.delete(this);
    if (this.#fd < 0) return;
    // The block being written (the queue's head) may not have reached the file: write it again,
    // at the same place (compression gives the same bytes again).
    let pos = this.#headAt >= 0 ? this.#headAt : this.#pos;
    for (const item of this.#queue) {
      if (item.kind !== 'block') continue;
      try {
        const raw = item.buf.subarray(0, item.len);
        const data = this.#compression === Compression.None ? raw : this.#compressSync(raw);
        fs.writeSync(this.#fd, blockHead(data.length, item.len), 0, 8, pos);
        fs.writeSync(this.#fd, data, 0, data.length, pos + 8);
        pos += 8 + data.length;
      } catch {
        break;
      }
    }
    this.#queue.length = 0;
    try { fs.closeSync(this.#fd); } catch { /* already closed */ }
    this.#fd = -1;
  }
}

export function compressionOf(name: string | undefined): Compression {
  if (name === undefined || name === 'none') return Compression.None;
  const i = COMPRESSION_NAMES.indexOf(name as never);
  if (name === 'gzip') return Compression.Deflate;
  if (i < 0) throw new TypeError(`record.compression must be 'none', 'deflate' (or 'gzip') or 'brotli', not ${name}`);
  return i as Compression;
}
