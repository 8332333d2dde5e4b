// The digest of an input's outputs that trace format 2 keeps instead of the outputs themselves
// (a replay re-derives them and compares digests). Folded in record by record as the core
// emits them, so recording never keeps or re-walks an input's outputs.
//
// A record's payload counts by content (CRC-32 of the bytes), except bytes the core passes on
// unchanged from the input's own payload (a WRITE or DATA pointing at the start of scratch):
// those count by length only, since the trace holds them already as the input's payload. So the
// 16 KiB a write hands straight to the transport are never hashed.
import { crc32 } from 'node:zlib';

export const OUT_SEED = 0x811c9dc5;
/** The payload of a record that passes on the input's own bytes (counted by length). */
export const PASS_THROUGH = -1;

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

/** Folds one output record into `x`; `data` is its payload, PASS_THROUGH, or null. */
export function foldOutput(x: number, op: number, h: number, a: number, b: number, c: number,
  len: number, data: Uint8Array | null | typeof PASS_THROUGH): number {
  x = word(x, op);
  x = word(x, h);
  x = num(x, a);
  x = num(x, b);
  x = num(x, c);
  x = word(x, len);
  if (len > 0) x = word(x, data === PASS_THROUGH ? 0x7fffffff : data === null ? 0 : crc32(data));
  return x;
}
