// Checking a guest module before it runs: it may import only what docs/guest.md offers, it must
// define and export its memory, and its memory maximum is lowered to the plugin's limit.
//
// The memory limit is enforced by the engine, not by polling: the module's own memory section
// is rewritten so that its declared maximum is min(declared, limit). A guest that grows past it
// gets -1 from memory.grow (most runtimes then trap), and the plugin ends with reason 'memory'.
// Rewriting touches only the memory section's limits; every other byte is kept.

/** The WASI functions a guest may import (docs/guest.md, "WASI"). */
export const GUEST_WASI = new Set([
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_time_get',
  'clock_res_get', 'random_get', 'fd_write', 'proc_exit', 'sched_yield',
]);

/** A module that cannot run as a guest: says why, in one line. */
export class GuestLoadError extends Error {}

export const PAGE = 65536;

/**
 * Compiles `bytes` as a guest whose memory may grow to `maxBytes` at most; checks its imports
 * against `allowed` (module name -> function names). Returns the module and the memory maximum
 * in force (the lower of the module's own and `maxBytes`).
 */
export function compileGuest(bytes: Uint8Array, maxBytes: number, allowed: Map<string, Set<string>>): { module: WebAssembly.Module; maxBytes: number } {
  let probe: WebAssembly.Module;
  try {
    probe = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  } catch (err) {
    throw new GuestLoadError(`not a valid WebAssembly module (${(err as Error).message})`);
  }
  for (const imp of WebAssembly.Module.imports(probe)) {
    if (imp.kind !== 'function') throw new GuestLoadError(`imports a ${imp.kind} (${imp.module}.${imp.name}): a guest defines its own memory and imports only functions`);
    if (!allowed.get(imp.module)?.has(imp.name)) throw new GuestLoadError(`imports ${imp.module}.${imp.name}, which docs/guest.md does not offer`);
  }
  if (!WebAssembly.Module.exports(probe).some((e) => e.name === 'memory' && e.kind === 'memory')) {
    throw new GuestLoadError('exports no memory named "memory"');
  }
  const capped = capMemory(bytes, Math.max(1, Math.floor(maxBytes / PAGE)));
  return { module: new WebAssembly.Module(capped.bytes as Uint8Array<ArrayBuffer>), maxBytes: capped.maxPages * PAGE };
}

/** Reads an unsigned LEB128 at `at`: [value, next offset]. */
function leb(b: Uint8Array, at: number): [number, number] {
  let v = 0, shift = 0, byte;
  do {
    if (at >= b.length) throw new GuestLoadError('truncated module');
    byte = b[at++];
    v += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [v, at];
}

function encode(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** `bytes` with every memory's maximum lowered to `maxPages` (a module already validated), and the maximum in force. */
export function capMemory(bytes: Uint8Array, maxPages: number): { bytes: Uint8Array; maxPages: number } {
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = leb(bytes, at + 1);
    const end = body + size;
    if (id === 5) {
      let [count, p] = leb(bytes, body);
      const section: number[] = encode(count);
      let inForce = maxPages;
      for (let i = 0; i < count; i++) {
        const flags = bytes[p++];
        if (flags & ~1) throw new GuestLoadError('uses shared or 64-bit memory, which guests may not');
        let min, max = Infinity;
        [min, p] = leb(bytes, p);
        if (flags & 1) [max, p] = leb(bytes, p);
        if (min > maxPages) throw new GuestLoadError(`needs ${min * PAGE} bytes of memory at start, over its limit of ${maxPages * PAGE}`);
        inForce = Math.min(max, maxPages);
        section.push(1, ...encode(min), ...encode(inForce));
      }
      const out = new Uint8Array(bytes.length - (end - at) + 1 + encode(section.length).length + section.length);
      out.set(bytes.subarray(0, at));
      const head = [5, ...encode(section.length), ...section];
      out.set(head, at);
      out.set(bytes.subarray(end), at + head.length);
      return { bytes: out, maxPages: inForce };
    }
    at = end;
  }
  return { bytes, maxPages };
}
