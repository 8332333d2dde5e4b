// Trace format 2: the bytes (docs/replay.md has the same description for users).
//
// A file is a preamble, a JSON header, and a body of blocks:
//   "WSNTRACE" (8 bytes), u8 version (2), u8 compression (0 none, 1 deflate, 2 brotli),
//   u16 0, u32 header length, header (UTF-8 JSON: abi, core digest, recording id, segment …),
//   then blocks: u32 stored length, u32 raw length, the stored bytes (compressed on their own).
// The raw bytes of the blocks, concatenated, are a sequence of records (a record may span blocks):
//   input:  u8 tag = input id (inputs.ts, 1..63) | 0x40 when `now` is the previous record's
//           | 0x80 when a flags byte follows;
//           [u8 flags: 1 nested (then varint depth, varint index), 2 same turn as the input before,
//           4 a new turn in the same iteration of the event loop as the turn before]
//           [f64 now], one number per argument, [varint length + bytes: the payload, for inputs
//           that carry one], number result, u32 digest of the outputs, u32 digest of the state
//           In a trace whose header has `writeHead` (H), an apiWrite's payload of more than H
//           bytes is its length, its first H bytes and a u32 digest of it (writeDigest):
//           the application's own writes, which a replay of the application makes again.
//   meta:   u8 0, u8 kind (META_*), varint length, UTF-8 JSON (META_CLOCK: three numbers, s k v)
// A number is a varint: an integer n (|n| ≤ 2^50, not -0) as 2·zigzag(n); anything else as 1
// followed by the f64. Varints are little-endian base 128.
// The digest of the outputs: host/core/outhash.ts (the header's `outputs` says which kind).
import type { OutputDigest } from '../core/outhash.js';

export const MAGIC = 'WSNTRACE';
export const TRACE_VERSION_2 = 2;
export const PREAMBLE = 16;

export const enum Compression { None = 0, Deflate = 1, Brotli = 2 }
export const COMPRESSION_NAMES = ['none', 'deflate', 'brotli'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

export const TAG_NOW_SAME = 0x40;
export const TAG_FLAGS = 0x80;
export const TAG_ID = 0x3f;
export const FLAG_NESTED = 1;
export const FLAG_SAME_TURN = 2;
export const FLAG_SAME_LOOP = 4;

/** What workerData carries to the trace writer's thread (register.cts stays out of that thread; writer.ts). */
export const WRITER_THREAD = 'wasinetTraceWriter';

/** A fresh core instance took over after a trap. */
export const META_CORE_NEW = 1;
/** The default name resolution failed (no core input carries that): {hostname, code, errno, syscall}. */
export const META_LOOKUP_ERROR = 2;
/** This segment ends; the recording goes on in {next} (a file name beside this one). */
export const META_SEGMENT_END = 3;
/** Recording stopped early: {reason} (the disk fell too far behind). */
export const META_TRUNCATED = 4;
/** The recorder was closed: the recording is complete. */
export const META_END = 5;
/** The input before this record trapped the core. */
export const META_TRAP = 6;
/** The application drew randomness from the crypto module: {i, f, b | v} (random.ts, RandomDraw). */
export const META_RANDOM = 7;
/** The application read the wall clock: {s, k, v} (clock.ts, ClockRead), as three numbers rather than JSON. */
export const META_CLOCK = 8;
/** The state of a TLS session below the core, as the socket asked for it: `{ h, state }` (host/backend/tls-state.ts). */
export const META_TLS = 9;
/** A timer of the program's ran: `{ i, s, t }` — the i-th timer it made, after s inputs, t 1 in the same turn as the input (or timer) before (trace/timers.ts). */
export const META_TIMER = 10;

export const META_NAMES: Record<number, string> = {
  [META_CORE_NEW]: 'core-new', [META_LOOKUP_ERROR]: 'lookup-error', [META_SEGMENT_END]: 'segment-end',
  [META_TRUNCATED]: 'truncated', [META_END]: 'end', [META_TRAP]: 'trap', [META_RANDOM]: 'random', [META_CLOCK]: 'clock', [META_TLS]: 'tls', [META_TIMER]: 'timer',
};

export interface TraceHeader {
  wasinet: 'trace';
  version: 2;
  abi: number;
  /** sha256 of the core build that recorded it. */
  core: string;
  /** One id per recording, shared by its segments. */
  recording: string;
  /** 0 for the first file of a recording, then 1, 2 … after each rotation. */
  segment: number;
  /** Wall-clock time the segment was started (ISO 8601). */
  started: string;
  compression: CompressionName;
  /** How outputs' payloads count in their digests, and which state digest (host/core/outhash.ts); absent in older traces: 1. */
  outputs?: OutputDigest;
  /** The recording marks a turn that came in the same iteration of the event loop as the one before (FLAG_SAME_LOOP). */
  loops?: boolean;
  /**
   * apiWrite payloads longer than this keep only their first `writeHead` bytes and a sampled
   * digest (writeDigest); absent: every payload byte is kept. Set with `outputs` 4.
   */
  writeHead?: number;
  /** Math.random's seed and whether crypto draws are kept (random.ts); absent: the recording did not make randomness reproducible. */
  random?: { seed: number[]; crypto: boolean };
  /** Date.now() and the stack's clock at one moment (clock.ts): the wall clock an application replay shows. */
  clock?: { wall: number; now: number };
  [key: string]: unknown;
}

/** The output digest a trace was recorded with. */
export function outputDigestOf(header: { outputs?: unknown }): OutputDigest {
  return header.outputs === 4 ? 4 : header.outputs === 3 ? 3 : header.outputs === 2 ? 2 : 1;
}

/** The header's writeHead: Infinity where a trace keeps every byte of every write (no writeHead). */
export function writeHeadOf(header: { writeHead?: unknown }): number {
  return typeof header.writeHead === 'number' ? header.writeHead : Infinity;
}

/** The bytes of an application's write a recording keeps whole, by default (RecordOptions.writeHead). */
export const WRITE_HEAD = 256;

/** A write of up to this many bytes (a message of a protocol) is digested by every byte. */
export const WRITE_DIGEST_WHOLE = 8192;
/** Of a longer write (bulk data), the bytes at its start digested whole. */
export const WRITE_DIGEST_START = 1024;
/** How many bytes past those writeDigest reads, spread evenly over the rest (and the last 32 too). */
const SAMPLES = 128;

const ALIGNED = new Uint8Array(WRITE_DIGEST_WHOLE);
const ALIGNED_WORDS = new Int32Array(ALIGNED.buffer);

/** One step of the digest: a multiply carries differences up, the shift brings them down again. */
const mix = (x: number, v: number): number => {
  x = Math.imul(x ^ v, 0x85ebca6b);
  return x ^ (x >>> 13);
};

/**
 * A digest of the first `len` bytes of `p`, for the part of an application's write a recording
 * does not keep (a replay of the application compares its own write's). A write of up to 8 KiB
 * (a message of a protocol) counts by every byte. A longer one (bulk data) counts by its length,
 * every byte of its first 1 KiB, 128 bytes spread evenly over the rest and its last 32: at most
 * about 0.3 µs a write, whatever its size. Hashing every byte would cost about 160 ms of CPU per
 * GiB sent in 16 KiB writes here, a third of what sending it costs; a recording must cost far
 * less. So a long write that differs only past its first 1 KiB, in bytes not read, passes for the
 * same: record with writeHead: Infinity to compare every byte.
 */
export function writeDigest(p: Uint8Array, len: number): number {
  const whole = len <= WRITE_DIGEST_WHOLE ? len : WRITE_DIGEST_START;
  // Every byte of the first `whole`: a Fletcher sum over 32-bit words in four lanes (additions
  // only: V8 runs it about four times faster than a multiply per byte), bytes where unaligned.
  // (An unaligned buffer's bytes are read from an aligned copy: the digest is of the bytes alone.)
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
  const n = whole >>> 4 << 2; // words, in groups of four
  let w: Int32Array;
  if ((p.byteOffset & 3) === 0) w = new Int32Array(p.buffer, p.byteOffset, n);
  else {
    ALIGNED.set(p.subarray(0, n * 4));
    w = ALIGNED_WORDS;
  }
  for (let i = 0; i < n; i += 4) {
    a0 = (a0 + w[i]) | 0; b0 = (b0 + a0) | 0;
    a1 = (a1 + w[i + 1]) | 0; b1 = (b1 + a1) | 0;
    a2 = (a2 + w[i + 2]) | 0; b2 = (b2 + a2) | 0;
    a3 = (a3 + w[i + 3]) | 0; b3 = (b3 + a3) | 0;
  }
  for (let i = n * 4; i < whole; i++) { a0 = (a0 + p[i] + 1) | 0; b0 = (b0 + a0) | 0; }
  let x = mix(0x811c9dc5, len);
  x = mix(mix(mix(mix(x, a0), a1), a2), a3);
  x = mix(mix(mix(mix(x, b0), b1), b2), b3);
  if (len > whole) {
    const step = Math.max(1, Math.floor((len - whole) / SAMPLES));
    for (let k = whole; k < len; k += step) x = mix(x, p[k]);
    for (let k = Math.max(whole, len - 32); k < len; k++) x = mix(x, p[k]);
  }
  return x >>> 0;
}

/** The largest integer a number is stored as a varint. */
export const INT_LIMIT = 2 ** 50;
