// The digest of an input's outputs that trace format 2 keeps instead of the outputs themselves
// (a replay re-derives them and compares digests). Folded in record by record as the core
// emits them, so recording never keeps or re-walks an input's outputs.
//
// A record's payload counts by content, except bytes the core passes on unchanged from the
// input's own payload: those count by where they start in it (and their length), since the trace
// holds them already as the input's payload. So the 16 KiB a write hands straight to the
// transport are never hashed.
//
// How content counts depends on the trace (its header's `outputs`): 1 (traces written before it
// existed) a CRC-32 of the bytes, and only bytes at the start of scratch count as passed on;
// 2 and 3 the core's own hashBytes over its memory (several times faster than zlib's CRC-32
// here), and passed-on bytes count at any offset. The header's `outputs` also says which state
// digest each input's record holds: 1 and 2 the core's `digest` (byte by byte), 3 its
// `digestWords` (a word at a time: recording a connection's inputs costs less). 4 (recordings
// that keep only the head of the application's writes, format.ts `writeHead`) is 3, except that
// a WRITE's bytes count by their length alone: they are the application's own, checked where it
// writes them (a replay of the core feeds a write's unkept bytes as zeros).
import { zlib } from '../lazy.js';

/** How outputs' payloads count in the digest: 1 CRC-32 (older traces), 2 and 3 the core's hashBytes; 3 and 4 also digestWords for the state; 4 not a WRITE's bytes. */
export type OutputDigest = 1 | 2 | 3 | 4;
/** What new recordings use that keep every byte of the application's writes. */
export const OUTPUT_DIGEST: OutputDigest = 3;
/** What new recordings use that keep the head of the application's writes (the default). */
export const OUTPUT_DIGEST_HEADS: OutputDigest = 4;

/** The word a WRITE's payload counts as in digest 4, whatever its bytes. */
export const WRITE_UNCOUNTED = 0x7ffffffd;

/** The word a payload of `len` bytes passed on from offset `off` of the input's payload counts as. */
export function passedOn(off: number): number {
  return off === 0 ? 0x7fffffff : (0x7ffffffe ^ Math.imul(off, 0x9e3779b1)) >>> 0;
}

/** The word a payload counts as in digest 1. */
export function crcOf(data: Uint8Array | null): number {
  return data === null ? 0 : zlib().crc32(data); // (node:zlib loads for traces of digest 1 only)
}

export const OUT_SEED = 0x811c9dc5;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function word(x: number, v: number): number {
  return Math.imul(x ^ v, 0x01000193) >>> 0;
}

function num(x: number, v: number): number {
  if ((v | 0) === v) return word(x, v);
  f64[0] = v;
  return word(word(x ^ 0x55, u32[0]), u32[1]);
}

/** Folds one output record into `x`; `payload` is the word its payload counts as (when len > 0). */
export function foldOutput(x: number, op: number, h: number, a: number, b: number, c: number,
  len: number, payload: number): number {
  x = word(x, op);
  x = word(x, h);
  x = num(x, a);
  x = num(x, b);
  x = num(x, c);
  x = word(x, len);
  if (len > 0) x = word(x, payload);
  return x;
}
