// The part of WASI preview 1 a guest may import (docs/guest.md, "WASI"), written for guests:
// args and environment as the plugin was given them, clocks and random numbers from the
// plugin's stack (virtual and seeded on the sim, so a simulated plugin is deterministic), fd 1
// and 2 to the plugin's output, proc_exit to end the plugin. No file system, no sockets.
// A bad pointer here is a fault of the guest like any other (GuestFault), not an errno.

/** Thrown through the guest to end it: a bad call (pointer, handle) or proc_exit. */
export class GuestFault extends Error {
  /**
   * The fault thrown during the guest call under way. A guest built with Wasm exception handling
   * could catch the exception (catch_all) and go on; the runtime re-throws this when the call
   * returns, so a fault always ends the guest.
   */
  static pending: GuestFault | null = null;
  constructor(readonly reason: 'fault' | 'exit', message: string, readonly code = 1) {
    super(message);
    GuestFault.pending ??= this;
  }
}

/** Bounds-checked access to the guest's memory (re-read each time: memory can grow). */
export class GuestMemory {
  memory: WebAssembly.Memory | null = null;

  get u8(): Uint8Array { return new Uint8Array(this.memory!.buffer); }

  check(fn: string, ptr: number, len: number): void {
    if (ptr < 0 || len < 0 || ptr + len > this.memory!.buffer.byteLength) {
      throw new GuestFault('fault', `${fn}: bytes [${ptr >>> 0}, +${len >>> 0}) are outside the guest's memory of ${this.memory!.buffer.byteLength} bytes`);
    }
  }

  bytes(fn: string, ptr: number, len: number): Uint8Array {
    ptr >>>= 0; len >>>= 0;
    this.check(fn, ptr, len);
    return this.u8.subarray(ptr, ptr + len);
  }

  string(fn: string, ptr: number, len: number): string {
    return Buffer.from(this.bytes(fn, ptr, len)).toString('utf8');
  }

  view(fn: string, ptr: number, len: number): DataView {
    ptr >>>= 0;
    this.check(fn, ptr, len);
    return new DataView(this.memory!.buffer, ptr, len);
  }
}

export interface WasiHost {
  args: string[];
  env: Record<string, string>;
  /** Monotonic ms (the stack's clock). */
  now(): number;
  /** Wall-clock ms (the stack's clock too on the sim). */
  wallNow(): number;
  random(into: Uint8Array): void;
  output(fd: 1 | 2, bytes: Uint8Array): void;
}

const ESUCCESS = 0, EBADF = 8, EINVAL = 28;

/** The `wasi_snapshot_preview1` import object for one guest. */
export function wasiImports(mem: GuestMemory, host: WasiHost): Record<string, (...a: any[]) => number> {
  const enc = (list: string[]) => list.map((s) => Buffer.from(`${s}\0`));
  const args = enc(host.args);
  const env = enc(Object.entries(host.env).map(([k, v]) => `${k}=${v}`));
  const sizes = (fn: string, list: Buffer[], countPtr: number, sizePtr: number) => {
    mem.view(fn, countPtr, 4).setUint32(0, list.length, true);
    mem.view(fn, sizePtr, 4).setUint32(0, list.reduce((n, b) => n + b.length, 0), true);
    return ESUCCESS;
  };
  const get = (fn: string, list: Buffer[], ptrs: number, buf: number) => {
    const total = list.reduce((n, b) => n + b.length, 0);
    const table = mem.view(fn, ptrs, 4 * list.length);
    const dest = mem.bytes(fn, buf, total);
    let off = 0;
    list.forEach((b, i) => {
      table.setUint32(4 * i, (buf >>> 0) + off, true);
      dest.set(b, off);
      off += b.length;
    });
    return ESUCCESS;
  };
  return {
    args_sizes_get: (c, s) => sizes('args_sizes_get', args, c, s),
    args_get: (p, b) => get('args_get', args, p, b),
    environ_sizes_get: (c, s) => sizes('environ_sizes_get', env, c, s),
    environ_get: (p, b) => get('environ_get', env, p, b),
    clock_time_get: (id: number, _precision: bigint, ptr: number) => {
      if (id < 0 || id > 3) return EINVAL;
      const ms = id === 0 ? host.wallNow() : host.now();
      mem.view('clock_time_get', ptr, 8).setBigUint64(0, BigInt(Math.round(ms * 1e6)), true);
      return ESUCCESS;
    },
    clock_res_get: (id: number, ptr: number) => {
      if (id < 0 || id > 3) return EINVAL;
      mem.view('clock_res_get', ptr, 8).setBigUint64(0, 1_000_000n, true);
      return ESUCCESS;
    },
    random_get: (ptr, len) => {
      host.random(mem.bytes('random_get', ptr, len));
      return ESUCCESS;
    },
    fd_write: (fd, iovs, count, nwrittenPtr) => {
      if (fd !== 1 && fd !== 2) return EBADF;
      const table = mem.view('fd_write', iovs, 8 * (count >>> 0));
      let n = 0;
      for (let i = 0; i < count; i++) {
        const chunk = mem.bytes('fd_write', table.getUint32(8 * i, true), table.getUint32(8 * i + 4, true));
        host.output(fd, chunk);
        n += chunk.length;
      }
      mem.view('fd_write', nwrittenPtr, 4).setUint32(0, n, true);
      return ESUCCESS;
    },
    proc_exit: (code) => { throw new GuestFault('exit', `called proc_exit(${code >>> 0})`, code >>> 0); },
    sched_yield: () => ESUCCESS,
  };
}
