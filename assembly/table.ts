// Handles: small integers the core allocates, so that a replay numbers everything the same.
// Sockets and listeners share one counter; a handle is never reused.
import { Sock, Listener } from "./sock";

let next: u32 = 1;
export const sockets = new Map<u32, Sock>();
export const listeners = new Map<u32, Listener>();

/** The handle the next newHandle gives instead of counting (0: none): see forceNextHandle. */
let forced: u32 = 0;

export function newHandle(): u32 {
  created++;
  if (forced == 0) return next++;
  let h = forced;
  forced = 0;
  if (h >= next) next = h + 1;
  return h;
}

/**
 * The next handle made is `h` (an application replay gives the one the recording gave: a call
 * taken earlier than recorded would otherwise take a number a transport input had). Counting
 * goes on above the highest handle made, so no handle is made twice.
 */
export function forceNextHandle(h: u32): void { forced = h; }
/** Handles made since the last full collection (see `done` in index.ts). */
export let created: u32 = 0;
export function resetCreated(): void { created = 0; }

export function newSock(): Sock {
  let s = new Sock(newHandle());
  sockets.set(s.id, s);
  return s;
}

export function newListener(): Listener {
  let l = new Listener(newHandle());
  listeners.set(l.id, l);
  return l;
}

// The socket last looked up: an input and its timers mostly name one socket several times, and
// each Map lookup hashes (has, then get). Handles are never reused, so only removal forgets it.
let lastH: u32 = 0;
let lastS: Sock | null = null;

// @ts-ignore: decorator
@inline export function sock(h: u32): Sock | null { return h == lastH ? lastS : lookUp(h); }

function lookUp(h: u32): Sock | null {
  if (!sockets.has(h)) return null;
  let s = sockets.get(h);
  lastH = h;
  lastS = s;
  return s;
}

/** Takes a closed socket out of the table. */
export function dropSock(s: Sock): void {
  sockets.delete(s.id);
  if (lastH == s.id) { lastH = 0; lastS = null; }
}
export function listener(h: u32): Listener | null { return listeners.has(h) ? listeners.get(h) : null; }
