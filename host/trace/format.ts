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
//   meta:   u8 0, u8 kind (META_*), varint length, UTF-8 JSON
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

export const META_NAMES: Record<number, string> = {
  [META_CORE_NEW]: 'core-new', [META_LOOKUP_ERROR]: 'lookup-error', [META_SEGMENT_END]: 'segment-end',
  [META_TRUNCATED]: 'truncated', [META_END]: 'end', [META_TRAP]: 'trap',
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
  [key: string]: unknown;
}

/** The output digest a trace was recorded with. */
export function outputDigestOf(header: { outputs?: unknown }): OutputDigest {
  return header.outputs === 3 ? 3 : header.outputs === 2 ? 2 : 1;
}

/** The largest integer a number is stored as a varint. */
export const INT_LIMIT = 2 ** 50;
