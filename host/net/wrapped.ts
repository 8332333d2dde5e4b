// A wasinet Socket that Node's tls or http2 reads as a plain stream.
//
// On node:net, tls takes a connected Socket's libuv handle and reads and writes below the
// stream. A wasinet Socket has no such handle (every byte goes through the core), so tls wraps
// it in a JSStreamSocket instead, which listens for the stream's 'data', 'end', 'error' and
// 'close' and calls its `pause()` and `resume()` to stop and start reading; the methods of its
// handle that the TLS socket's own forward to (`getsockname`, `setNoDelay`, `unref` …) are
// missing. What a program sees must stay node:net's, so once a wrapper starts reading:
//
// - the core's bytes and end of stream go to the wrapper's listeners directly, below the
//   socket's own stream, which (as on node:net) gets nothing more: no decoding (an encoding set
//   for a plain-text exchange before STARTTLS does not matter), no ciphertext for the
//   program's 'data' listeners, no 'end';
// - the wrapper's listeners are out of the socket's listener lists, so a program that removes
//   every listener from the plain socket after the upgrade (basic-ftp does) does not stop TLS;
//   an error and 'close' still reach the wrapper (a failed connect's error reaches the socket's
//   own listeners first, as on node:net, where the socket kept its handle until it connected);
// - a 'data' event the program emits on the plain socket itself (ftp-srv forwards the TLS
//   socket's plaintext to the plain socket's parser that way) reaches the program's listeners;
// - the TLS socket's `remoteAddress`, `localPort`, `address()`, `setNoDelay()`,
//   `setKeepAlive()`, `ref()` and `unref()` reach the plain socket, as they reach the TCP handle
//   on node:net.
import type { Duplex } from 'node:stream';
import { constants } from 'node:os';
import { createRequire } from 'node:module';

interface ReadableState {
  decoder: unknown;
  encoding: string | null;
  length: number;
}

interface Addr { address?: string; family?: string; port?: number }

/** What the wrapper's handle forwards to: a wasinet Socket's public surface. */
interface PlainSocket extends Duplex {
  address(): Addr | Record<string, never>;
  readonly remoteAddress?: string;
  readonly remoteFamily?: string;
  readonly remotePort?: number;
  setNoDelay(on?: boolean): unknown;
  setKeepAlive(on?: boolean, delayMs?: number): unknown;
  ref(): unknown;
  unref(): unknown;
}

const onBun = (globalThis as { Bun?: unknown }).Bun !== undefined;

/** Whether a 'data' listener is Node's JSStreamSocket reading a stream (by function, once). */
const streamWrapReaders = new WeakMap<Function, boolean>();
function isStreamWrapReader(fn: Function): boolean {
  let is = streamWrapReaders.get(fn);
  if (is === undefined) {
    // Its listener refuses a string chunk (ERR_STREAM_WRAP), stops listening, and hands a
    // buffer to its handle's readBuffer: Node's as written, Deno's as minified. No other
    // listener of Node's looks like that, and a program's own is unlikely to.
    const src = Function.prototype.toString.call(fn);
    is = src.includes('.readBuffer(') && src.includes('removeListener(') && /typeof \w+ ?=== ?['"`]string['"`]/.test(src);
    streamWrapReaders.set(fn, is);
  }
  return is;
}

/** A wrapper reading a socket: its listeners, taken out of the socket's lists. */
interface Wrapper {
  data: Function;
  /** null where the wrapper's listener was not recognized (Bun's): it stays on the socket. */
  end: Function | null;
  error: Function | null;
  close: Function | null;
  /** Between its readStart (resume) and readStop (pause). */
  reading: boolean;
  /** What came while it did not read, in order; null is the end of stream. */
  queue: (Uint8Array | null)[] | null;
  /** Whether the socket has connected (its errors are the wrapper's alone from then on). */
  connected: boolean;
}

const wrappers = new WeakMap<object, Wrapper>();

/** Takes the newest listener of `event` off the socket if its source looks like `shape` (the wrapper's). */
function takeListener(socket: Duplex, event: string, shape: RegExp): Function | null {
  const all = socket.rawListeners(event);
  const last = all[all.length - 1] as (Function & { listener?: Function }) | undefined;
  if (last === undefined) return null;
  const fn = last.listener ?? last;
  if (!shape.test(Function.prototype.toString.call(fn))) return null;
  socket.removeListener(event, fn as (...args: unknown[]) => void);
  return fn;
}

/**
 * Called when the socket resumes with 'data' listeners: whether the newest one is a wrapper's
 * (its readStart resumes the stream). If so, the wrapper's listeners are taken over as
 * described above; the caller then feeds it with `wrapperData` and `wrapperEnd`.
 */
export function wrappedAsStream(socket: Duplex, state: ReadableState): boolean {
  // A wrapper adds its listener last and then resumes the stream: only the newest listener is
  // looked at, in the emitter's own table (no array made: resume() is called often).
  const table = (socket as unknown as { _events?: Record<string | symbol, unknown> })._events;
  const entry = table?.data;
  let last = (Array.isArray(entry) ? entry[entry.length - 1] : entry) as (Function & { listener?: Function }) | undefined;
  if (typeof last !== 'function') return false;
  if (typeof last.listener === 'function') last = last.listener; // once()
  // Bun's tls reads a stream through a native listener (no source to recognize); it adds a
  // listener for its own `kReadError` event with it.
  const reader = isStreamWrapReader(last) ||
    (onBun && Object.getOwnPropertySymbols(table!).some((k) => k.description === 'kReadError'));
  if (!reader) return false;
  if (state.length === 0) {
    state.decoder = null;
    state.encoding = null;
  }
  socket.removeListener('data', last as (...args: unknown[]) => void);
  // JSStreamSocket added these just before its 'data' listener, and resumed the stream right
  // after: they are the newest of their events.
  const w: Wrapper = {
    data: last,
    end: takeListener(socket, 'end', /\.emitEOF\(/),
    error: takeListener(socket, 'error', /\.emit\(\s*['"`]error['"`]/),
    close: takeListener(socket, 'close', /\.destroy\(/),
    reading: false,
    queue: null,
    connected: !(socket as { pending?: boolean }).pending,
  };
  wrappers.set(socket, w);
  const emit = socket.emit;
  // On this socket alone (every other socket keeps the class's emit), not enumerable.
  Object.defineProperty(socket, 'emit', {
    configurable: true, writable: true, enumerable: false,
    value: function emitWrapped(this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'connect') w.connected = true;
      else if (event === 'error' && w.error !== null) {
        // On node:net a connected socket's error is the wrapper's alone (tls and http2 read below
        // the socket), but one that never connected (refused, not found) is still the socket's
        // own first: its listeners have it, then the wrapper.
        if (!w.connected && this.listenerCount('error') > 0) emit.apply(this, [event, ...args] as Parameters<typeof emit>);
        w.error.apply(this, args);
        return true;
      }
      const had = emit.apply(this, [event, ...args] as Parameters<typeof emit>);
      if (event === 'close' && w.close !== null) {
        w.close.apply(this, args);
        return true;
      }
      return had;
    },
  });
  if (state.length > 0) {
    // Bytes the stream held before the wrapper came: tls reads them itself on the next tick
    // (its initRead); what is left after that (http2 has none) goes to the wrapper.
    process.nextTick(() => process.nextTick(() => {
      let chunk: unknown;
      while (socket.readableLength > 0 && (chunk = socket.read()) !== null) w.data.call(socket, chunk);
    }));
  }
  forwardHandleMethods();
  return true;
}

/**
 * The core's bytes for a wrapped socket: to the wrapper, or kept while it does not read.
 * Returns whether it still reads (else the core should stop delivering).
 */
export function wrapperData(socket: object, buf: Uint8Array): boolean {
  const w = wrappers.get(socket)!;
  if (!w.reading || w.queue !== null) (w.queue ??= []).push(buf);
  else w.data.call(socket, buf);
  return w.reading;
}

/** The end of stream for a wrapped socket: false if the wrapper takes it from the stream's 'end' (Bun). */
export function wrapperEnd(socket: object): boolean {
  const w = wrappers.get(socket)!;
  if (w.end === null) return false;
  if (!w.reading || w.queue !== null) (w.queue ??= []).push(null);
  else w.end.call(socket);
  return true;
}

/**
 * The wrapper's readStart (the socket's resume()): what was kept goes to it first. Returns
 * whether it still reads after that (then the core should deliver).
 */
export function wrapperResume(socket: object): boolean {
  const w = wrappers.get(socket)!;
  w.reading = true;
  const queue = w.queue;
  while (queue !== null && queue.length > 0 && w.reading) {
    const next = queue.shift()!;
    if (next === null) w.end!.call(socket);
    else w.data.call(socket, next);
  }
  if (queue !== null && queue.length === 0 && w.queue === queue) w.queue = null;
  return w.reading;
}

/** The wrapper's readStop (the socket's pause()). */
export function wrapperPause(socket: object): void {
  wrappers.get(socket)!.reading = false;
}


// -------------------------------------------------------------- the wrapper's handle

let forwarding = false;
let ownerKey: symbol | null | undefined;

/** The wasinet Socket a JSStreamSocket handle reads, found through the handle's owner. */
function plainSocketOf(handle: object): PlainSocket | null {
  if (ownerKey === undefined) {
    ownerKey = Object.getOwnPropertySymbols(handle).find((k) => k.description === 'owner_symbol') ?? null;
  }
  if (ownerKey === null) return null;
  const stream = ((handle as Record<symbol, unknown>)[ownerKey] as { stream?: unknown } | undefined)?.stream;
  return typeof stream === 'object' && stream !== null && wrappers.has(stream) ? stream as PlainSocket : null;
}

const ENOTCONN = -(constants.errno.ENOTCONN ?? 107);

/** The plain socket's peer, as a handle's getpeername gives it. */
function peerOf(s: PlainSocket): Addr {
  return { address: s.remoteAddress, family: s.remoteFamily, port: s.remotePort };
}

/** A handle's getsockname/getpeername answer: the address into `out`, or ENOTCONN without one. */
function fill(out: Addr, a: Addr): number {
  if (a.port === undefined) return ENOTCONN;
  out.address = a.address;
  out.family = a.family;
  out.port = a.port;
  return 0;
}

/**
 * Gives Node's JSStream handle the methods a TLS socket's handle forwards to its parent
 * (node's `_tls_wrap`: a method the parent lacks does nothing). Each answers for a wasinet
 * Socket and does nothing for any other stream, as before. Node only (process.binding), once.
 */
function forwardHandleMethods(): void {
  if (forwarding) return;
  forwarding = true;
  if (process.env.WASINET_NO_INTERNALS) return;
  let proto: Record<string, unknown>;
  try {
    const binding = (process as unknown as { binding?(name: string): { JSStream?: unknown } }).binding;
    const JSStream = binding?.('js_stream').JSStream;
    proto = typeof JSStream === 'function' ? (JSStream as { prototype: Record<string, unknown> }).prototype : {};
  } catch {
    proto = {};
  }
  if (typeof (proto as { readBuffer?: unknown }).readBuffer !== 'function') {
    // Not Node's own: on Deno the TLS socket's methods are given the same answers instead
    // (Bun's tls is native: left as it is).
    if ((globalThis as { Deno?: unknown }).Deno !== undefined) forwardTlsSocketMethods();
    return;
  }
  const methods: Record<string, (this: object, ...args: any[]) => number | undefined> = {
    getsockname(out: Addr) {
      const s = plainSocketOf(this);
      return s === null ? undefined : fill(out, s.address() as Addr);
    },
    getpeername(out: Addr) {
      const s = plainSocketOf(this);
      return s === null ? undefined : fill(out, peerOf(s));
    },
    setNoDelay(on: boolean) {
      const s = plainSocketOf(this);
      if (s === null) return undefined;
      s.setNoDelay(on);
      return 0;
    },
    setKeepAlive(on: boolean, delaySecs: number) {
      const s = plainSocketOf(this);
      if (s === null) return undefined;
      s.setKeepAlive(on, (delaySecs ?? 0) * 1000);
      return 0;
    },
    ref() {
      plainSocketOf(this)?.ref();
      return undefined;
    },
    unref() {
      plainSocketOf(this)?.unref();
      return undefined;
    },
  };
  for (const [name, fn] of Object.entries(methods)) {
    if (!(name in proto)) Object.defineProperty(proto, name, { configurable: true, writable: true, enumerable: false, value: fn });
  }
}

/**
 * Deno's tls (a port of Node's in JavaScript) reads a stream through the same JSStreamSocket,
 * but its TLS handle forwards nothing to it: a TLS socket's own address getters and socket
 * options answer from its handle, which has none. There, the TLS socket's methods that would
 * ask the handle are given the plain wasinet Socket's answers when that is what it wraps (its
 * handle's `_parentWrap.stream`), and keep their own for any other TLS socket. Once.
 */
function forwardTlsSocketMethods(): void {
  let proto: Record<string, unknown>;
  try {
    const require = createRequire(import.meta.url);
    proto = (require('node:tls') as { TLSSocket: { prototype: Record<string, unknown> } }).TLSSocket.prototype;
  } catch {
    return;
  }
  const plainOf = (t: unknown): PlainSocket | null => {
    const s = (t as { _handle?: { _parentWrap?: { stream?: unknown } } | null })?._handle?._parentWrap?.stream;
    return typeof s === 'object' && s !== null && wrappers.has(s) ? s as PlainSocket : null;
  };
  const answers: Record<string, (this: unknown, s: PlainSocket, ...args: any[]) => unknown> = {
    _getsockname: (s) => s.address(),
    _getpeername: (s) => (s.remoteAddress === undefined ? {} : peerOf(s)),
    setNoDelay(s, on?: boolean) { s.setNoDelay(on); return this; },
    setKeepAlive(s, on?: boolean, delayMs?: number) { s.setKeepAlive(on, delayMs); return this; },
    ref(s) { s.ref(); return this; },
    unref(s) { s.unref(); return this; },
  };
  for (const [name, answer] of Object.entries(answers)) {
    const own = proto[name];
    if (typeof own !== 'function') continue;
    Object.defineProperty(proto, name, {
      configurable: true, writable: true, enumerable: false,
      value: function forwarded(this: unknown, ...args: unknown[]): unknown {
        const s = plainOf(this);
        return s === null ? (own as Function).apply(this, args) : answer.call(this, s, ...args);
      },
    });
  }
}
