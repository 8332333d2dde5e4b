// Outputs and the scratch region: how the core talks to its host.
//
// `emit` is the only caller of the `out` import. A tap (used by the as-pect tests) can keep a
// copy of every record inside the core, so unit tests observe the core exactly as a host does.
// The scratch region is where the host puts an input's payload (bytes, strings) before it calls
// the export that reads them; it is reused by every input.
import { out } from "./bindings/host";
import { OP_FILL, FEATURE_GATHER, FEATURE_FILL_AT, CMD_WRITE as abi_CMD_WRITE } from "./abi";

export const SCRATCH_SIZE: u32 = 262144;
export const scratch: usize = heap.alloc(SCRATCH_SIZE);

/** The time of the input being handled (ms); set by every export from its `now`. */
export let now: f64 = 0;
/** Counts inputs: lets a socket emit at most one WRITE per input (see socket.ts, pump). */
export let epoch: u32 = 0;
export function setNow(t: f64): void { if (t > now) now = t; epoch++; }

export class Rec {
  constructor(public op: u32, public h: u32, public a: f64, public b: f64, public c: f64, public data: string) {}
}

let tapOn = false;
export let tapped: Rec[] = [];
export function tap(on: bool): void { tapOn = on; tapped = []; }

export function emit(op: u32, h: u32, a: f64 = 0, b: f64 = 0, c: f64 = 0, ptr: usize = 0, len: u32 = 0): void {
  if (tapOn) tapped.push(new Rec(op, h, a, b, c, String.UTF8.decodeUnsafe(ptr, len)));
  out(op, h, a, b, c, ptr, len);
}

/**
 * Asks the host for the payload bytes of the current input at [ptr, ptr+len) of scratch,
 * before the core reads them (OP_FILL). No record: a host that filled scratch before the call
 * ignores it, and taps do not see it.
 */
export function fill(ptr: usize, len: u32): void {
  out(OP_FILL, 0, 0, 0, 0, ptr, len);
}

/** What the host handles beyond the plain forms (FEATURE_* bits; hostFeatures in index.ts). */
export let hostFeatures: u32 = 0;
export function setHostFeatures(bits: u32): void { hostFeatures = bits; }

/**
 * Asks the host to copy `len` bytes of the current input's payload, from offset `off`, to `dst`
 * anywhere in memory (a host with FEATURE_FILL_AT): a queue takes them with no copy of its own.
 */
export function fillAt(dst: usize, off: u32, len: u32): void {
  out(OP_FILL, 0, <f64>off, 1, 0, dst, len);
}

/** Up to 64 runs [ptr u32][len u32] of one gathered WRITE (FEATURE_GATHER). */
export const GATHER_MAX: u32 = 64;
const gatherTable: usize = heap.alloc(GATHER_MAX * 8);
let gatherRuns: u32 = 0;

/** Whether a WRITE of several runs may go out as a table of them (the host gathers). */
export function gathering(): bool { return (hostFeatures & FEATURE_GATHER) != 0; }
/** Whether the host fills payload anywhere (FILL_AT): then an apiWrite may exceed scratch. */
export function fillsAt(): bool { return (hostFeatures & FEATURE_FILL_AT) != 0; }

/** Adds a run to the WRITE being gathered. */
export function gatherRun(ptr: usize, len: u32): void {
  store<u32>(gatherTable + (<usize>gatherRuns << 3), <u32>ptr);
  store<u32>(gatherTable + (<usize>gatherRuns << 3), len, 4);
  gatherRuns++;
}

/** Emits the gathered WRITE (b = 1: data is the table of runs) and starts a new table. */
export function emitGathered(h: u32): void {
  let n = gatherRuns;
  gatherRuns = 0;
  emit(abi_CMD_WRITE, h, 0, 1, 0, gatherTable, n << 3);
}

/** Emits with a managed byte string as data (addresses kept by the core). */
export function emitBuf(op: u32, h: u32, a: f64, b: f64, c: f64, data: ArrayBuffer | null): void {
  if (data === null) emit(op, h, a, b, c);
  else emit(op, h, a, b, c, changetype<usize>(data), <u32>data.byteLength);
}

/** Copies `len` bytes of scratch starting at `off` into a managed buffer. */
export function takeScratch(off: u32, len: u32): ArrayBuffer {
  let b = new ArrayBuffer(len);
  memory.copy(changetype<usize>(b), scratch + off, len);
  return b;
}

/** `x NUL y` as one buffer, for outputs that carry two strings. */
export function joinNul(x: ArrayBuffer | null, y: ArrayBuffer | null): ArrayBuffer {
  let xl = x === null ? 0 : x.byteLength;
  let yl = y === null ? 0 : y.byteLength;
  let b = new ArrayBuffer(xl + 1 + yl);
  if (x !== null) memory.copy(changetype<usize>(b), changetype<usize>(x), xl);
  store<u8>(changetype<usize>(b) + xl, 0);
  if (y !== null) memory.copy(changetype<usize>(b) + xl + 1, changetype<usize>(y), yl);
  return b;
}
