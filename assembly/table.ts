// Handles: small integers the core allocates, so that a replay numbers everything the same.
// Sockets and listeners share one counter; a handle is never reused.
import { Sock, Listener } from "./sock";

let next: u32 = 1;
export const sockets = new Map<u32, Sock>();
export const listeners = new Map<u32, Listener>();

export function newHandle(): u32 { created++; return next++; }
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

export function sock(h: u32): Sock | null { return sockets.has(h) ? sockets.get(h) : null; }
export function listener(h: u32): Listener | null { return listeners.has(h) ? listeners.get(h) : null; }
