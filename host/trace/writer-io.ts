// What the trace writer's thread and the main thread's exit path both do: the file's preamble,
// and writing a run of blocks synchronously at a position (each block compressed on its own).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { MAGIC, PREAMBLE, TRACE_VERSION_2, Compression, type TraceHeader } from './format.js';

/** Bytes a chunk of trace holds: the recorder fills one, the writer writes it as one block. */
export const CHUNK = 1 << 20;

/** Numbers a writer shares with the thread (a Float64Array over a SharedArrayBuffer). */
export const enum Stat {
  /** Raw bytes of the blocks the thread is done with. */
  Consumed = 0,
  /** Bytes on disk, over every segment. */
  Written = 1,
  Size = 2,
}

/** The bell's words (an Int32Array over a SharedArrayBuffer shared by the process's writers). */
export const enum Bell {
  /** Rung once per message posted to the thread. */
  Rung = 0,
  /** Counts the process exits the thread has answered (it wrote everything posted before). */
  Flushed = 1,
  Size = 2,
}

export function preamble(header: TraceHeader, compression: Compression): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const b = Buffer.alloc(PREAMBLE + json.length);
  b.write(MAGIC, 0, 'latin1');
  b[8] = TRACE_VERSION_2;
  b[9] = compression;
  b.writeUInt32LE(json.length, 12);
  json.copy(b, PREAMBLE);
  return b;
}

function compress(data: Uint8Array, compression: Compression): Buffer {
  if (compression === Compression.Deflate) return zlib.deflateRawSync(data, { level: 1 });
  return zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 3 } });
}

/** Writes all of `data` at `pos` of `fd` (a write may take less than asked: it goes on). */
function writeAllSync(fd: number, data: Uint8Array, pos: number): void {
  for (let done = 0; done < data.length;) {
    const n = fs.writeSync(fd, data, done, data.length - done, pos + done);
    if (n <= 0) throw new Error(`wasinet: trace write made no progress at ${pos + done}`);
    done += n;
  }
}

/**
 * Writes `blocks` (raw bytes each) at `pos` of `fd`, each as a block (u32 stored length, u32 raw
 * length, the stored bytes). Returns the bytes written. Positional writes, one per head and one
 * per block: Deno's writevSync is several times slower than its writeSync, Node's no faster.
 */
export function writeBlocksSync(fd: number, pos: number, blocks: Uint8Array[], compression: Compression): number {
  const head = Buffer.allocUnsafe(8);
  let at = pos;
  for (const raw of blocks) {
    const data = compression === Compression.None ? raw : compress(raw, compression);
    head.writeUInt32LE(data.length, 0);
    head.writeUInt32LE(raw.length, 4);
    writeAllSync(fd, head, at);
    writeAllSync(fd, data, at + 8);
    at += 8 + data.length;
  }
  return at - pos;
}
