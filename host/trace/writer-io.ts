// What the trace writer's thread and the main thread's exit path both do: the file's preamble,
// and writing a run of blocks synchronously at a position (each block compressed on its own).
import fs from 'node:fs';
import zlib from 'node:zlib';
import { MAGIC, PREAMBLE, TRACE_VERSION_2, Compression, type TraceHeader } from './format.js';

/** Bytes a chunk of trace holds: the recorder fills one, the writer writes it as one block. */
export const CHUNK = 1 << 20;

/** The writer's shared control words (Int32 indices) and numbers (Float64 indices). */
export const enum Ctl {
  /** Entries published by the recorder's thread. */
  Head = 0,
  /** Entries the writer's thread is done with. */
  Tail = 1,
  /** 1: close once every entry is written. */
  Close = 2,
  /** 1: the process is exiting; the writer's thread stops and answers with Halted. */
  Stop = 3,
  Halted = 4,
  /** The file being written. */
  Fd = 5,
  /** The first entry's word: per entry, its length, buffer and flags (ENTRY_WORDS each). */
  Entries = 8,
}
export const enum CtlF64 {
  /** Where the next block goes in the file. */
  Pos = 0,
  /** Bytes on disk, over every segment. */
  Written = 1,
  /** Raw bytes of the entries written so far. */
  Consumed = 2,
  /** Doubles before the Int32 words start (they share one buffer). */
  Size = 4,
}
export const ENTRY_WORDS = 3;
/** An entry's flag: close this file and go on in the next (its path comes as a message). */
export const ENTRY_ROTATE = 1;

/** The shared control of a writer with room for `entries` entries. */
export function controlOf(sab: SharedArrayBuffer): { i32: Int32Array; f64: Float64Array; entries: number } {
  const i32 = new Int32Array(sab, CtlF64.Size * 8);
  return { i32, f64: new Float64Array(sab, 0, CtlF64.Size), entries: (i32.length - Ctl.Entries) / ENTRY_WORDS };
}

export function newControl(entries: number): SharedArrayBuffer {
  return new SharedArrayBuffer(CtlF64.Size * 8 + (Ctl.Entries + entries * ENTRY_WORDS) * 4);
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

/**
 * Writes `blocks` (raw bytes each) at `pos` of `fd`, each as a block (u32 stored length, u32 raw
 * length, the stored bytes), in as few system calls as it can. Returns the bytes written.
 */
export function writeBlocksSync(fd: number, pos: number, blocks: Uint8Array[], compression: Compression): number {
  const iov: Uint8Array[] = [];
  let bytes = 0;
  for (const raw of blocks) {
    const data = compression === Compression.None ? raw : compress(raw, compression);
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(data.length, 0);
    head.writeUInt32LE(raw.length, 4);
    iov.push(head, data);
    bytes += 8 + data.length;
  }
  let done = 0;
  while (done < bytes) {
    // writev may write less than asked (a full disk, a signal): go on from where it stopped.
    let skip = done;
    let i = 0;
    while (skip >= iov[i].length) skip -= iov[i++].length;
    const rest = [iov[i].subarray(skip), ...iov.slice(i + 1)];
    const n = fs.writevSync(fd, rest.slice(0, 1024), pos + done);
    if (n <= 0) throw new Error(`wasinet: trace write made no progress at ${pos + done}`);
    done += n;
  }
  return bytes;
}
