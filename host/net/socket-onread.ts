// The `onread` option of a client Socket: bytes go into the user's buffer and to the user's
// callback instead of 'data' events, and the stream never buffers them. A callback that returns
// false, or pauses the socket, stops reading at once (READ_STOP), as Node does with its handle;
// resume() or read() starts it again.
//
// The core does the buffering: it is told the size of the user's buffer with each read request
// (apiRead(h, size)) and answers with one DATA of at most that many bytes; what does not fit
// stays in its receive queue, in order, until the callback has had its say and the next
// bufferful is asked for. So a stop leaves the rest in the core (where a trace and a policy see
// it), as Node's stop leaves it in the kernel; after a restart it comes on the next tick, as
// the kernel's would.
//
// Asking for the next bufferful from inside the callback that got the last one would nest one
// call per bufferful (a 1-byte buffer and a 64 KiB read: 65,536 deep), so the requests go
// through one loop (`#pull`), and a request made while it runs just tells it to go on.
import type { Core } from '../core/core.js';
import { ERRNO } from '../core/abi.js';
import { errnoException } from './errors.js';

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
  destroy(err?: Error): unknown;
}

/** What libuv reads at most without a user buffer (its 64 KiB allocation). */
const DEFAULT_READ = 65536;

export class Onread {
  /**
   * The user's buffer; `true` when the buffer function gave no Uint8Array (Node's kBuffer keeps
   * `true` then: its handle reads into buffers of its own, and the callback gets the count and
   * `true`).
   */
  #buf: Uint8Array | true;
  readonly #gen: (() => Uint8Array) | null = null;
  readonly #cb: (n: number, buf: Uint8Array) => boolean | void;
  /** A restart waits for the next tick to hand over what the core kept (Node's `reading` is already true). */
  #restart = false;
  #pulling = false;
  #more = false;
  /** Bytes the core delivered that an empty buffer refused (ENOBUFS): unread, so not in bytesRead. */
  refused = 0;

  constructor(option: OnreadOption) {
    if (typeof option.buffer === 'function') {
      this.#gen = option.buffer;
      this.#buf = true;
    } else {
      this.#buf = option.buffer;
    }
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

  /** The size asked of the core: the user's buffer (at least one byte, so that reading goes on). */
  #size(): number {
    const b = this.#buf;
    return b === true ? DEFAULT_READ : Math.max(1, b.length);
  }

  /** Node's `handle.reading`: started and not stopped since. */
  reading(core: Core, h: number): boolean {
    return this.#restart || (h !== 0 && (core.socketFlags(h) & 1) !== 0);
  }

  /** One bufferful from the core (DATA): to the user; then the next one, unless the callback stopped. */
  data(sock: OnreadSocket, core: Core, h: () => number, src: Uint8Array): void {
    const dst = this.#buf;
    if (dst !== true && dst.length === 0) {
      // libuv reads nothing into an empty buffer: its read fails with ENOBUFS (what came stays
      // unread: closing then resets the connection, see Socket's _destroy).
      this.refused += src.length;
      sock.destroy(errnoException(ERRNO.ENOBUFS, 'read'));
      return;
    }
    const n = dst === true ? src.length : Math.min(dst.length, src.length);
    if (dst !== true) dst.set(src.subarray(0, n));
    const go = this.#cb.call(sock, n, dst as Uint8Array) !== false; // `this` is the socket, as in Node
    this.#nextBuffer();
    if (sock.destroyed || h() === 0) return;
    if (!go) this.stop(core, h());
    else if (this.reading(core, h())) this.#pull(core, h);
  }

  #pull(core: Core, h: () => number): void {
    if (this.#pulling) {
      this.#more = true;
      return;
    }
    this.#pulling = true;
    try {
      do {
        this.#more = false;
        if (h() !== 0) core.apiRead(h(), this.#size());
      } while (this.#more);
    } finally {
      this.#pulling = false;
    }
  }

  /** Whether bytes the user never got wait in the core (Node leaves them in the kernel: a close then resets). */
  unread(core: Core, h: number): boolean {
    return h !== 0 && core.readQueueSize(h) > 0;
  }

  /** Starts reading: what the core kept comes on the next tick, then the transport's. */
  start(sock: OnreadSocket, core: Core, h: () => number): void {
    if (this.reading(core, h())) return;
    if (h() !== 0 && core.readQueueSize(h()) > 0) {
      this.#restart = true;
      process.nextTick(() => {
        if (!this.#restart) return; // stopped again meanwhile
        this.#restart = false;
        if (!sock.destroyed) this.#pull(core, h);
      });
      return;
    }
    this.#pull(core, h);
  }

  stop(core: Core, h: number): void {
    this.#restart = false;
    if (h) core.apiPause(h);
  }
}
