// The `onread` option of a client Socket: bytes go into the user's buffer and to the user's
// callback instead of 'data' events, and the stream never buffers them. A callback that returns
// false, or pauses the socket, stops reading at once (READ_STOP), as Node does with its handle;
// resume() or read() starts it again.
//
// One read of the transport may bring more than the user's buffer holds: it is handed over one
// bufferful per callback. What is left when the callback stops is kept here, in order, for the
// next start (a read that Node's kernel read would have left in the kernel); it comes on the
// next tick after the restart, as the kernel's would.
import type { Core } from '../core/core.js';

export interface OnreadOption {
  buffer: Uint8Array | (() => Uint8Array);
  callback: (bytesWritten: number, buf: Uint8Array) => boolean | void;
}

/** Whether `onread` is an option Node takes (a buffer or a function, and a callback). */
export function isOnread(onread: unknown): onread is OnreadOption {
  if (onread === null || typeof onread !== 'object') return false;
  const o = onread as OnreadOption;
  return (o.buffer instanceof Uint8Array || typeof o.buffer === 'function') && typeof o.callback === 'function';
}

/** What the reader needs of its Socket. */
export interface OnreadSocket {
  readonly destroyed: boolean;
}

export class Onread {
  /** Reading was started (Node's `handle.reading`). */
  reading = false;
  #buf: Uint8Array | null = null;
  readonly #gen: (() => Uint8Array) | null = null;
  readonly #cb: (n: number, buf: Uint8Array) => boolean | void;
  #leftover: Uint8Array | null = null;
  #leftoverQueued = false;

  constructor(option: OnreadOption) {
    if (typeof option.buffer === 'function') this.#gen = option.buffer;
    else this.#buf = option.buffer;
    this.#cb = option.callback;
  }

  /** A connection starts: the buffer function gives the first buffer, as in Node. */
  begin(): void {
    this.#nextBuffer();
  }

  #nextBuffer(): void {
    if (this.#gen) {
      const b = this.#gen();
      if (b instanceof Uint8Array) this.#buf = b;
    }
  }

  /** Bytes from the core (DATA). Returns false when reading must stop (READ_STOP). */
  data(sock: OnreadSocket, buf: Uint8Array): boolean {
    if (!this.reading || this.#leftover) {
      // Paused (or bytes held back before these): keep them, in order, for the resume.
      this.#leftover = this.#leftover ? Buffer.concat([this.#leftover, buf]) : buf;
      return true;
    }
    return this.#deliver(sock, buf) || !this.reading;
  }

  /**
   * Copies into the user's buffer, one callback per bufferful. Stops (keeping the rest for
   * later) when the callback returns false or pauses the socket; false = stopped.
   */
  #deliver(sock: OnreadSocket, src: Uint8Array): boolean {
    let off = 0;
    while (off < src.length) {
      const dst = this.#buf!;
      const n = Math.min(dst.length, src.length - off);
      dst.set(src.subarray(off, off + n));
      off += n;
      const go = this.#cb(n, dst) !== false;
      this.#nextBuffer();
      if (!go || !this.reading || sock.destroyed) {
        if (off < src.length) this.#leftover = src.subarray(off);
        return false;
      }
    }
    return true;
  }

  /** Starts reading: the held-back bytes first (on the next tick), then the transport. */
  start(sock: OnreadSocket, core: Core, h: () => number): void {
    this.reading = true;
    if (this.#leftover) {
      if (!this.#leftoverQueued) {
        this.#leftoverQueued = true;
        process.nextTick(() => this.#flush(sock, core, h));
      }
      return;
    }
    if (h()) core.apiRead(h());
  }

  stop(core: Core, h: number): void {
    this.reading = false;
    if (h) core.apiPause(h);
  }

  #flush(sock: OnreadSocket, core: Core, h: () => number): void {
    this.#leftoverQueued = false;
    if (!this.reading || sock.destroyed) return;
    const rest = this.#leftover;
    this.#leftover = null;
    if (rest && !this.#deliver(sock, rest)) {
      this.reading = false; // paused again: the transport was never restarted
      return;
    }
    if (this.reading && h()) core.apiRead(h());
  }
}
