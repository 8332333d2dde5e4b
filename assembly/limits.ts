// The stack's limits and the counters kept beside them (apiLimits sets them, usage() reads them).
//
// Every limit is off (Infinity) until the host sets it. Counts: sockets with a transport (a
// connect under way or done, an accepted or opened socket) until their CLOSED, listeners binding
// or listening. Bytes: what the queues hold (queue.ts keeps the stack's total), what the stack
// sent and received over its life. coreMemory is checked after every input and on every new slab:
// the core aborts (a trap the host contains) rather than grow past it.
import { heldBytes } from "./queue";

export let maxSockets: f64 = Infinity;
export let maxListeners: f64 = Infinity;
export let socketBuffer: f64 = Infinity;
export let stackBuffer: f64 = Infinity;
export let sentQuota: f64 = Infinity;
export let receivedQuota: f64 = Infinity;
export let coreMemory: f64 = Infinity;

export let openSockets: i32 = 0;
export let openListeners: i32 = 0;
export let sentTotal: f64 = 0;
export let receivedTotal: f64 = 0;
/** Accepted connections closed at once because the stack had `sockets` open already. */
export let dropped: f64 = 0;

function orNone(v: f64): f64 { return v >= 0 ? v : Infinity; }

/** A negative value (or NaN) means no limit. */
export function setLimits(sockets: f64, listeners: f64, sockBuf: f64, stackBuf: f64, sent: f64, received: f64, mem: f64): void {
  maxSockets = orNone(sockets);
  maxListeners = orNone(listeners);
  socketBuffer = orNone(sockBuf);
  stackBuffer = orNone(stackBuf);
  sentQuota = orNone(sent);
  receivedQuota = orNone(received);
  coreMemory = orNone(mem);
}

export function socketOpened(): bool {
  if (<f64>openSockets >= maxSockets) return false;
  openSockets++;
  return true;
}
export function socketClosed(): void { openSockets--; }
export function listenerOpened(): bool {
  if (<f64>openListeners >= maxListeners) return false;
  openListeners++;
  return true;
}
export function listenerClosed(): void { openListeners--; }
export function droppedOne(): void { dropped++; }

/**
 * Bytes a socket holding `own` bytes in its queues may still add: 0 at a bound, at most 2^30
 * (so that a queue's size plus its room never overflows a u32).
 */
export function room(own: u32): u32 {
  let r = min(socketBuffer - <f64>own, stackBuffer - <f64>heldBytes());
  if (r <= 0) return 0;
  return r >= 1073741824 ? 1073741824 : <u32>r;
}

/** Whether `n` more bytes may be sent without crossing the quota; counts them if so. */
export function takeSent(n: f64): bool {
  if (sentTotal + n > sentQuota) return false;
  sentTotal += n;
  return true;
}

export function takeReceived(n: f64): bool {
  if (receivedTotal + n > receivedQuota) return false;
  receivedTotal += n;
  return true;
}

/** Bytes counted by takeReceived that the socket did not take after all (offered again later). */
export function untakeReceived(n: f64): void {
  receivedTotal -= n;
}

/** Bytes of linear memory now. */
export function memoryBytes(): f64 { return <f64>memory.size() * 65536; }

/** Traps when the memory grew past coreMemory: the host discards this instance. */
// @ts-ignore: decorator
@inline export function checkMemory(): void {
  if (memoryBytes() > coreMemory) memoryExceeded();
}

function memoryExceeded(): void {
  abort("core memory limit exceeded: " + (<u64>memoryBytes()).toString() + " bytes > coreMemory " + (<u64>coreMemory).toString(), "assembly/limits.ts", 0, 0);
}
