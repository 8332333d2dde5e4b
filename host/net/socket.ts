// net.Socket: a stream.Duplex whose transport is a socket of the Wasm core.
//
// The Duplex gives users what they observe of writing and reading (write()'s answer,
// writableLength, 'drain', 'data', 'end', 'finish') exactly as Node's Socket does, because it
// is the same stream machinery. Below it, every transport decision is the core's: _write hands
// bytes to the core, which completes the callback once the transport took them; _read asks
// the core for data, and a full Readable tells it to pause; end() asks for a FIN, destroy()
// for a close; idle timeouts, connection attempts, socket options and byte counts are kept in
// the core. This class turns the core's notifications into Node's events, in Node's order and
// on Node's ticks, and keeps only what Node's API needs that the core cannot hold: the stream,
// the user's callbacks and options, and the addresses it reports.
//
// The jobs around it have their own files: connecting (socket-connect.ts), the `onread` option
// (socket-onread.ts), `_handle` (handle.ts). A Socket holds few fields, and the state of a job
// only while the job runs (a Connector while connecting), so that an idle socket is small.
//
// Why this file is over 400 lines: it is node:net's Socket surface itself — some forty public
// methods and accessors, each with Node's argument checks, plus the handlers that turn the
// core's notifications into events. Each piece is short; splitting the class across files would
// scatter one API that users read as one.
import { Duplex, getDefaultHighWaterMark } from 'node:stream';
import { addAbortSignal } from './abort.js';
import { adoptable } from './adopt.js';
import { wrappedAsStream, wrapperData, wrapperEnd, wrapperPause, wrapperResume } from './wrapped.js';
import type { Output } from '../core/core.js';
import type { CoreTrap } from '../core/core.js';
import { Op, Opt, ERRNO, SYSCALLS } from '../core/abi.js';
import { Stack, getDefaultStack, kNotify, kResolve, kTrapped, kSetOption, type Endpoint } from './stack.js';
import {
  PipeHandle, TcpHandle, applyOption, kClosed, kCloseCb, kReadStart, kReadStop, kReading, kTransportOption,
  kCloseTransport, kFd, kWriteQueueSize, kRefHandle, kHasRef, kSockname, kPeername, type HandleOwner,
} from './handle.js';
import { Connector, TARGET_IPC, internAddress } from './socket-connect.js';
import { splitNames } from '../core/names.js';
import { Onread, isOnread, type OnreadOption } from './socket-onread.js';
import {
  ERR_INVALID_ARG_VALUE, ERR_MISSING_ARGS, ERR_SOCKET_CLOSED, ERR_SOCKET_CLOSED_BEFORE_CONNECTION,
  ERR_INVALID_HANDLE_TYPE, errnoException, exceptionWithHostPort, endedByOtherParty,
} from './errors.js';
import { validateNumber, validateInt32, validateString, validateFunction, timerDuration } from './validate.js';
import { guardAccessors } from './accessors.js';
import { normalizeArgs, kNormalized, type NormalizedArgs } from './args.js';
import { kSendHandle, kSentDestroyed, type SendCarrier } from './child-send.js';

/** Read once: Node 20's global Buffer is an accessor, a getter call at every use. */
const Buffer = globalThis.Buffer;

export const kStack = Symbol('wasinet.stack');
/** Bytes a write() now would hand to the transport at once (the plugin host sizes its writes by it). */
export const kWriteRoom = Symbol('wasinet.writeRoom');
/** Options of a socket accepted by a Server: the core handle and what the core said of it. */
export const kAccepted = Symbol('wasinet.accepted');
/** A subclass's step right before connect() asks the core to connect handle `h` (tls.ts). */
export const kCarry = Symbol('wasinet.carry');
/** The core handle of a socket now (0: none). */
export const kHandleOf = Symbol('wasinet.handleOf');
/** The stack a socket lives on. */
export const kStackOf = Symbol('wasinet.stackOf');
/** Opens a socket as the TLS session of another's connection (tls.ts). */
export const kTakeOver = Symbol('wasinet.takeOver');

export interface AcceptedInfo extends Names {
  h: number;
}

interface AddressInfo { address?: string; family?: string; port?: number }

/**
 * The addresses of a connection, as the core reported them (a Server hands its accepted sockets
 * theirs, AcceptedInfo). family 0: a Unix socket or pipe. A Socket keeps them in fields of its
 * own, not in this object: one object fewer per connection.
 */
export interface Names {
  family: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

interface WriteRequest {
  bufs: Uint8Array[];
  i: number;
  off: number;
  offered: boolean;  // every byte was handed to the core: only its completion is left
  offering: boolean; // a piece is being offered to the core right now
  again: boolean;    // WRITABLE came while it was
  refund: boolean;   // refused, it leaves bytesWritten (see triedFromStack)
  cb: (err?: Error | null) => void;
  /** Iterations of the event loop its completion waits for still (a long writev: IOV_MAX). */
  hold: number;
  /** How many of `bufs` may be offered so far (a long writev goes IOV_MAX a loop iteration). */
  limit: number;
  /** Its completion, when it came while `hold` was not yet 0. */
  held: (() => void) | null;
  /** Where the current system call's buffers end (a long writev: IOV_MAX of them a call). */
  callEnd: number;
  /** Its last WRITE is libuv's uv_write on the socket's own handle (Backend.lateWrite). */
  late: boolean;
}

/**
 * Buffers one writev system call of libuv's takes (IOV_MAX on Linux and macOS). A writev of
 * more buffers than that does not complete at once on node:net even when the kernel takes all:
 * `uv_try_write` sends the first IOV_MAX, `uv_write` the next IOV_MAX and then waits for the
 * socket to be writable, and sends IOV_MAX more each iteration of the event loop. Its callback
 * (and so writableLength, 'drain', 'finish') comes after the poll phase that sends the last of
 * them: of the same iteration for up to 2·IOV_MAX buffers, and one more per IOV_MAX beyond.
 * http's chunked responses are such writevs (four buffers a res.write(), corked for a tick).
 * On Node's event loop wasinet completes them in the same phases (the backend's pendingPhase
 * and closePhase, below; the difference left: a writev of more than 2·IOV_MAX buffers made where
 * its socket had no event of that poll phase — a timer, a check-phase callback, another socket's
 * callback — completes on node:net after the reads of the peers its bytes made ready, here
 * before them; docs/design.md). Without the loop's phases (Deno, Bun, the simulator), a writev of up to
 * 2·IOV_MAX buffers completes late in the drain of ticks and microtasks that follows the write
 * (lateInDrain), and a longer one from callbacks of the check phase, right after the poll phase
 * that node:net sends the last of it in.
 */
const IOV_MAX = 1024;

/** Rounds of ticks and microtasks a writev of 1025 to 2048 buffers waits (lateInDrain, without pendingPhase). */
const DRAIN_HOPS = 4;

/**
 * Runs `fn` late in the current drain of ticks and microtasks: after `hops` rounds of the ticks
 * queued before it and the microtasks queued before those, so after the ticks and promise
 * reactions the writing code chained that deep, and still before the loop's next phase. (JS
 * has no hook for "the drain is over"; libuv's pending phase, which this stands for, is.)
 */
function lateInDrain(fn: () => void, hops: number): void {
  if (hops === 0) fn();
  else process.nextTick(() => queueMicrotask(() => lateInDrain(fn, hops - 1)));
}

/** The long writev whose step (pendingPhase) is sending more right now, if one. */
let stepping: WriteRequest | null = null;

/** The iterations of the event loop a writev of `n` buffers takes on node:net (see IOV_MAX). */
function writevIterations(n: number): number {
  return n <= IOV_MAX ? 0 : 1 + Math.ceil(Math.max(0, n - 2 * IOV_MAX) / IOV_MAX);
}

type Chunk = string | Uint8Array;

// #flags
const DETACHED = 1;  // `_handle = null` was set: the connection is no longer the socket's
const RESET = 2;     // resetAndDestroy(): the coming destroy closes with an RST
const OPENING = 4;   // wrapping an fd: the transport reports it connected, with no 'connect'
const TRAPPED = 8;   // the core trapped: 'close' says true
const CLOSE_ERROR = 16; // destroyed with an error after `_handle.close()`: 'close' says true
const FOREIGN = 32;  // new Socket({ handle }) with an object that is no stream handle: it is `_handle`, as given
const PEER_READ = 64; // remoteAddress & co. were read while connected (Node caches them then)
const LOCAL_ASKED = 128; // the transport was asked for the local name it left out at connect
const PEER_ASKED = 256;  // the same for the peer's name (accepted sockets)
// The core's socket wants data: apiRead was its last read call (not apiPause). Another apiRead
// would change nothing then: the core delivers whatever arrives at once while it wants data
// (nothing waits in its queue), and only apiPause or the socket's end stops that. So the
// Readable's request for more after every chunk costs no input (one of five per 1-byte echo).
const WANTS_DATA = 512;
const WRAPPED = 1024; // Node's JSStreamSocket reads it (tls, http2): see wrappedAsStream
const WRITE_FAILED = 2048; // a write request failed: the transport's later errors are the same failure
const BARE = 4096; // the core socket was made by setTimeout() alone: no connect, no fd (Node has no handle)
const SENT = 8192; // its connection went to another process (child_process's send(): child-send.ts)

// #opts: the options asked for (Node's kSetNoDelay, kSetKeepAlive and its delay in seconds),
// which the core gets for every new connection.
const NO_DELAY = 1;
const KEEP_ALIVE = 2;
/** The keep-alive delay libuv gives a socket it makes for a handle marked keep-alive before. */
const LIBUV_KEEPALIVE_MS = 60_000;

/** What of a Readable's internal state a socket looks at (Node's `_readableState`). */
interface ReadableState {
  decoder: unknown;
  encoding: string | null;
  length: number;
}

function familyName(f: number): string | undefined {
  return f === 4 ? 'IPv4' : f === 6 ? 'IPv6' : undefined;
}

function toBuffer(chunk: Chunk, encoding: BufferEncoding | 'buffer'): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, encoding === 'buffer' ? 'utf8' : encoding) : chunk;
}

/**
 * Whether Node writes this string chunk with a string write that first tries the kernel from a
 * 16 KiB stack buffer (StreamBase::WriteString: latin1, ascii, utf8 and ucs2 strings whose
 * worst-case size fits). Such a write counts in bytesWritten only what the kernel took, so one
 * refused at once (EPIPE, ECONNRESET) leaves it; a Buffer, a writev, a hex or base64 string or a
 * longer string is counted when it is dispatched and stays counted when it fails. (A short
 * string the kernel could not take at once and that failed later stays counted in Node; here it
 * leaves bytesWritten too.) The encodings are matched as net.js matches them, case and all.
 */
function triedFromStack(chunk: string, encoding: string): boolean {
  let size: number;
  switch (encoding) {
    case 'latin1': case 'binary': case 'ascii': size = chunk.length; break;
    case 'utf8': case 'utf-8': size = 3 * chunk.length; break;
    case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le': size = 2 * chunk.length; break;
    default: return false;
  }
  return size <= 16384;
}

function byteLength(chunk: Chunk, encoding?: BufferEncoding | 'buffer'): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding === 'buffer' ? 'utf8' : encoding) : chunk.length;
}

export interface SocketOptions {
  fd?: number;
  allowHalfOpen?: boolean;
  readable?: boolean;
  writable?: boolean;
  signal?: AbortSignal;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  onread?: OnreadOption;
  [key: string]: unknown;
}

export class Socket extends adoptable(Duplex) implements Endpoint, HandleOwner {
  static [kStack]: Stack | null = null;

  connecting = false;
  declare timeout?: number;
  server: unknown = null;
  _server: unknown = null;
  // Public fields of Node's Socket that its consumers read or set (see docs/design.md).
  _hadError = false;
  _parent: unknown = null;
  _host: string | null = null;
  /** Set while trying several addresses (undefined before, as in Node, whose types say string[]). */
  declare autoSelectFamilyAttemptedAddresses: string[];
  declare allowHalfOpen: boolean;

  readonly #stack: Stack;
  #h = 0;                 // the core's socket, 0 when there is none
  #flags = 0;
  #opts = 0;
  // The connection's addresses (see Names); #family -1 until the core reported them.
  #family = -1;
  #localAddress = '';
  #localPort = 0;
  #remoteAddress = '';
  #remotePort = 0;
  #sock: AddressInfo | null = null; // address()'s object, made when first asked (Node caches it)
  #handleObj: PipeHandle | null = null; // `_handle` while there is a connection (made on first use)
  #req: WriteRequest | null = null;
  #finalCb: ((err?: Error | null) => void) | null = null;
  /** Node's kLastWriteQueueSize: the bytes of the write in progress (one not done in write() itself), 0 once done; see #onTimeout. */
  #lastWrite = 0;
  #dispatched = 0;        // bytes of write requests handed to the core (Node's handle.bytesWritten)
  #bytesRead = 0;         // the core's count, kept once the handle is gone
  #connector: Connector | null = null; // while connecting
  #onread: Onread | null = null;

  constructor(options?: SocketOptions | number) {
    if (typeof options === 'object' && options !== null) {
      if (options.objectMode) {
        throw ERR_INVALID_ARG_VALUE('options.objectMode', options.objectMode, 'is not supported');
      } else if (options.readableObjectMode || options.writableObjectMode) {
        const which = options.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode';
        throw ERR_INVALID_ARG_VALUE(`options.${which}`, options.readableObjectMode || options.writableObjectMode, 'is not supported');
      }
      if (typeof options.keepAliveInitialDelay !== 'undefined') {
        validateNumber(options.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
        if (options.keepAliveInitialDelay < 0) options.keepAliveInitialDelay = 0;
      }
    }
    // Read in place, not copied: a socket's stream options are one object of a fixed shape.
    // (net.js copies the options and adds to the copy; V8 then makes a new hidden class for
    // every socket, and every options lookup of the stream constructors misses: about 7 µs of
    // each `net.connect()`, against 0.2 µs this way.) An options object with a prototype of its
    // own is copied, since only its own properties count, as with net.js's copy.
    const opts: SocketOptions = typeof options === 'number' ? { fd: options }
      : options == null ? {}
      : Object.getPrototypeOf(options) === Object.prototype ? options : { ...options };
    // The stream's own `signal` handling would destroy this socket from inside super(), before
    // its fields exist: it is attached below, once they do, with the same stream function.
    const signal = opts.signal;
    const hwm = node20Buffers(opts as { highWaterMark?: number });
    super({
      // Every option the stream constructors read (Node 20's Duplex, Readable, Writable and
      // EventEmitter), but the object modes, refused above, and the signal.
      allowHalfOpen: Boolean(opts.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
      readable: opts.readable,
      writable: opts.writable,
      highWaterMark: opts.highWaterMark,
      readableHighWaterMark: opts.readableHighWaterMark ?? hwm,
      writableHighWaterMark: opts.writableHighWaterMark ?? hwm,
      encoding: opts.encoding,
      defaultEncoding: opts.defaultEncoding,
      captureRejections: opts.captureRejections,
      read: opts.read,
      write: opts.write,
      writev: opts.writev,
      final: opts.final,
      destroy: opts.destroy,
      construct: opts.construct,
    } as never);
    const internal = opts as Record<symbol, unknown>;
    this.#stack = (internal[kStack] as Stack | undefined) ?? (new.target as typeof Socket)[kStack] ?? getDefaultStack();
    if (signal) addAbortSignal(signal, this); // Node ignores a falsy signal
    const accepted = internal[kAccepted] as AcceptedInfo | undefined;

    if (isOnread(opts.onread)) this.#onread = new Onread(opts.onread);
    this.#opts = (opts.noDelay ? NO_DELAY : 0) | (opts.keepAlive ? KEEP_ALIVE : 0) |
      ((~~((opts.keepAliveInitialDelay as number) / 1000)) << 2);

    this.on('end', onReadableStreamEnd);

    if (opts.fd !== undefined) {
      validateInt32(opts.fd, 'fd', 0);
      this.#open(opts.fd, 0);
      if (opts.readable !== false) this.read(0);
    } else if (opts.handle != null) {
      this.#openHandle(opts.handle as Record<string, unknown>, opts);
    }

    if (accepted) {
      this.#adopt(accepted.h);
      this.#setNames(accepted.family, accepted.localAddress, accepted.localPort, accepted.remoteAddress, accepted.remotePort);
      if (opts.readable !== false) {
        if (opts.pauseOnCreate) (this as { readableFlowing: boolean | null }).readableFlowing = false;
        else if (!opts.manualStart) this.read(0);
      }
    }
  }

  /**
   * new Socket({ handle }) (undocumented in Node): a libuv stream handle becomes the transport,
   * as an fd does; any other object (Node's own tests pass stand-ins) is `_handle` as given, and
   * gets the calls net.js makes on a handle (readStart, setNoDelay, setKeepAlive).
   */
  #openHandle(handle: Record<string, unknown>, opts: SocketOptions): void {
    const isStream = handle.isStreamBase === true && typeof handle.readStart === 'function' && typeof handle.writeBuffer === 'function';
    const token = isStream ? this.#stack.backend.adoptHandle(handle) : -1;
    if (token < 0) {
      this.#handleObj = handle as unknown as PipeHandle;
      this.#flags |= FOREIGN;
      if (opts.readable !== false && !opts.pauseOnCreate && !opts.manualStart && typeof handle.readStart === 'function') {
        (handle.readStart as () => void)();
      }
      return;
    }
    this.#open(token, 1);
    if (opts.readable !== false && !opts.manualStart) {
      if (opts.pauseOnCreate) (this as { readableFlowing: boolean | null }).readableFlowing = false;
      else this.read(0);
    }
  }

  /**
   * Opens an existing transport as this socket's: an fd (kind 0) or the backend's token for a
   * handle object (kind 1). A refusal (the sandbox) throws, and leaves no core socket behind.
   */
  #open(source: number, kind: 0 | 1 | 2): void {
    const h = this.#handle();
    this.#flags |= OPENING;
    try {
      refusedOpen(this.#stack.core.apiOpen(h, source, kind));
    } catch (err) {
      this.#stack.core.apiDestroy(h, 0);
      this.#stack.unregister(h, this);
      this.#h = 0;
      throw err;
    } finally {
      this.#flags &= ~OPENING;
    }
  }

  #adopt(h: number): void {
    this.#h = h;
    this.#flags &= ~WANTS_DATA;
    this.#handleObj = null;
    this.#stack.register(h, this);
    this.#onread?.begin();
  }

  /** The core handle, allocated on first need (a timeout may be set before connect). */
  #handle(): number {
    if (this.#h === 0) {
      const core = this.#stack.core;
      let made = false;
      core.apiSocket((h) => { made = true; this.#adopt(h); });
      // The core trapped making the handle (coreMemory): no handle, so no trap notice either.
      if (!made && core.dead) { this[kTrapped](core.dead); return 0; }
      const o = this.#opts;
      if (o & NO_DELAY) this.#stack.core.apiSetOption(this.#h, Opt.NoDelay, 1, 0);
      if (o & KEEP_ALIVE) this.#stack.core.apiSetOption(this.#h, Opt.KeepAlive, 1, (o >> 2) * 1000);
    }
    return this.#h;
  }

  /** Whether the connection is a Unix socket or pipe (the core knows; also while connecting). */
  #isIpc(): boolean {
    if (this.#connector) return this.#connector.ipc;
    return this.#h !== 0 && (this.#stack.core.socketFlags(this.#h) & 4) !== 0;
  }

  // ------------------------------------------------------------------ connecting

  connect(...args: unknown[]): this {
    const normalized: NormalizedArgs = Array.isArray(args[0]) && (args[0] as NormalizedArgs)[kNormalized]
      ? args[0] as NormalizedArgs : normalizeArgs(args);
    const [options, cb] = normalized;
    if (cb !== null) this.once('connect', cb);

    if (options.port === undefined && options.path == null) throw ERR_MISSING_ARGS(['options', 'port', 'path']);

    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;

    if (this.destroyed) {
      this.#h = 0;
      this.#family = -1;
      this.#sock = null;
      this.#req = null;
      this.#finalCb = null;
      this.#flags &= ~(TRAPPED | CLOSE_ERROR | PEER_READ | WRITE_FAILED | BARE);
      this.#bytesRead = 0;    // a new connection counts from zero, as a new handle does in Node
      this.#dispatched = 0;
      (this as unknown as { _undestroy(): void })._undestroy();
    } else if (this.#h === 0 || (this.#flags & BARE) !== 0) {
      // Node makes the socket's handle here, and making one resets both sides' stream state
      // (initSocketHandle's _undestroy): an end() made before connect() is forgotten (writable
      // again, 'finish' only from a later end()), though its deferred _final still shuts the
      // connection's write side at 'connect'.
      (this as unknown as { _undestroy(): void })._undestroy();
    }

    const path = options.path as string | undefined;
    const pipe = !!path;
    if (!this.destroyed && !this.connecting && this.#hasConnection()) {
      // connect() on a connected socket: on node:net the connect(2) of its handle succeeds
      // again, and the socket goes on on the connection it has, with another 'connect'.
      this.connecting = true;
      setImmediate(() => {
        if (this.destroyed || !this.connecting) return;
        this.connecting = false;
        this.emit('connect');
        this.emit('ready');
      });
      return this;
    }
    const connector = new Connector(options, pipe);
    // connect() over TCP while a TCP connect is under way: the first connect's connector keeps
    // the connection (its lookup, attempts and errors); the new one only tries again (EALREADY).
    const again = this.connecting && !pipe && this.#connector !== null && !this.#connector.ipc && this.#h !== 0;
    if (!again) this.#connector = connector;
    this.#flags &= ~(DETACHED | BARE);
    this.connecting = true;

    if (pipe) validateString(path, 'options.path');
    const h = this.#handle();
    // A TLS socket (tls.ts) tells the backend that this handle's connection carries a session.
    if (h !== 0) this[kCarry](h);
    if (pipe) this.#stack.core.apiConnect(h, TARGET_IPC, 0, 0, path!, '', 0, 0);
    else connector.startTcp(this, this.#stack, h, () => this.#h, again);
    return this;
  }

  /** RESOLVE from the core. */
  [kResolve](o: Output): void {
    this.#connector?.resolve(this, this.#stack, o, () => this.#h);
  }

  // ------------------------------------------------------------------ notifications

  [kNotify](o: Output): void {
    switch (o.op) {
      case Op.EV_DATA: return this.#onData(o.data!);
      case Op.EV_EOF:
        if ((this.#flags & WRAPPED) !== 0 && wrapperEnd(this)) return;
        this.push(null);
        this.read(0);
        return;
      case Op.EV_WRITABLE: return this.#feed();
      case Op.EV_WRITE_DONE: return this.#writeDone(o.a);
      case Op.EV_SHUTDOWN_DONE:
        return this.#endDone(o.a && o.a !== ERRNO.ENOTCONN ? errnoException(o.a, 'shutdown') : undefined);
      case Op.EV_TIMEOUT: return this.#onTimeout();
      case Op.EV_CONNECT_ATTEMPT: return this.#connector?.attempt(this, o);
      case Op.EV_CONNECT_ATTEMPT_FAILED: return this.#connector?.attemptFailed(this, o);
      case Op.EV_CONNECT_ATTEMPT_TIMEOUT: return this.#connector?.attemptTimeout(this, o);
      case Op.EV_ATTEMPTS_FAILED: this.destroy(this.#connector!.attemptsFailed()); return;
      case Op.EV_CONNECTED: return this.#onConnected(o);
      case Op.EV_ERROR: return this.#onError(o);
      case Op.EV_CLOSED: return this.#onClosed(o);
    }
  }

  #onConnected(o: Output): void {
    if (this.destroyed) return;
    this.connecting = false;
    const [localAddress, remoteAddress] = splitNames(o.data);
    this.#setNames(o.b, localAddress, o.a, remoteAddress, o.c); // one string per name already (splitNames)
    // A write held while connecting keeps the connector until its 'connect' listener sends it:
    // bytesWritten counts its bytes in the 'connect' listeners that run before, as Node's does.
    if (this.#connector?.pendingData === null) this.#connector = null;
    if (this.#flags & OPENING) return; // an fd is open from the start: Node emits no 'connect'
    this.emit('connect');
    this.emit('ready');
    if (!this.isPaused()) this.read(0);
  }

  #onError(o: Output): void {
    if (this.#flags & WRITE_FAILED) return; // the same failure, of another WRITE in flight
    const syscall = SYSCALLS[o.b] ?? 'read';
    if (syscall === 'connect') {
      this.destroy(this.#connector ? this.#connector.connectError(o) : errnoException(o.a, 'connect'));
    } else if (syscall === 'bind') {
      this.destroy(exceptionWithHostPort(o.a, 'bind', o.data?.toString(), o.c));
    } else if (syscall === 'reset') {
      // The transport refused destroy()'s reset (libuv will not reset a socket whose shutdown is
      // under way): Node emits that from destroy() itself, and its handle never closes.
      this.emit('error', errnoException(o.a, 'reset'));
    } else if (syscall === 'write' && this.#req !== null) {
      // A write request the core did not have all of yet failed in the transport.
      this.#writeDone(o.a);
    } else if (syscall === 'write' && this.#finalCb !== null) {
      // Writes the core confirmed at once (a turn's batch) failed in the transport after end():
      // on node:net that write fails, and end()'s callbacks get the error before the stream is
      // destroyed. The end waiting on it fails the same way (the stream's final callback, with
      // the error, calls them and then destroys).
      this.#endDone(errnoException(o.a, syscall));
    } else {
      this.destroy(errnoException(o.a, syscall));
    }
  }

  /** CLOSED: `a` 1 when destroyed with an error, `b` 1 when there was no transport to wait for. */
  #onClosed(o: Output): void {
    const handle = this.#handleObj;
    if (handle !== null && handle[kClosed] === 1) {
      // The close of `_handle.close()`.
      handle[kClosed] = 2;
      const cb = handle[kCloseCb];
      handle[kCloseCb] = null;
      if (this.#h === o.h) {
        // The socket was not destroyed: it keeps the closed handle until it is.
        this.#stack.unregister(o.h, this);
        const pending = this.#req;
        this.#req = null;
        if (pending) pending.cb(errnoException(ERRNO.ECANCELED, 'write'));
        cb?.();
        return;
      }
      cb?.();
    }
    // A request the core never took in full has no mark to cancel: complete it as libuv
    // completes a write canceled by close (the stream is destroyed, so without an error).
    const req = this.#req;
    this.#req = null;
    if (req) req.cb(null);
    this.#stack.unregister(o.h, this);
    const hadError = o.a === 1 || (this.#flags & CLOSE_ERROR) !== 0;
    // A close the core reports inside destroy() itself had no transport to wait for; Node
    // emits it from the close phase of the loop (its handle, made at connect(), closes), after
    // the error's tick and after every check-phase callback of that iteration.
    if (o.b === 1) {
      const emitClose = (): void => { this.emit('close', hadError); };
      const backend = this.#stack.backend;
      if (backend.closePhase) backend.closePhase(emitClose);
      else setImmediate(emitClose);
    } else this.emit('close', hadError);
  }

  [kTrapped](err: CoreTrap): void {
    // The core is gone: nothing will report CLOSED. Destroy with the trap and close here.
    const waitingForClose = this.destroyed && this.#h === 0;
    this.#h = 0;
    const req = this.#req;
    this.#req = null;
    if (req) process.nextTick(() => req.cb(err));
    this.connecting = false;
    this.#flags |= TRAPPED;
    if (!this.destroyed) this.destroy(err);
    else if (waitingForClose) process.nextTick(() => this.emit('close', true));
  }

  // ------------------------------------------------------------------ reading

  override _read(n: number): void {
    if (this.connecting || this.#h === 0) {
      this.once('connect', () => this._read(n));
      return;
    }
    const onread = this.#onread;
    if (onread) {
      onread.start(this, this.#stack.core, () => this.#h);
      return;
    }
    this.#read();
  }

  /** Asks the core for data, unless it is delivering already (WANTS_DATA). */
  #read(): void {
    if (this.#flags & WANTS_DATA) return;
    this.#flags |= WANTS_DATA;
    this.#stack.core.apiRead(this.#h);
  }

  #pause(): void {
    this.#flags &= ~WANTS_DATA;
    this.#stack.core.apiPause(this.#h);
  }

  #onData(buf: Buffer): void {
    if (this.destroyed) return;
    const onread = this.#onread;
    if ((this.#flags & WRAPPED) !== 0) {
      // Below the stream, as tls reads a node:net Socket's handle (wrapped.ts).
      if (!wrapperData(this, buf) && (this.#flags & WANTS_DATA) !== 0) this.#pause();
    } else if (onread) {
      onread.data(this, this.#stack.core, () => this.#h, buf);
    } else if (!this.push(buf)) {
      this.#pause();
    }
  }

  /** In onread mode the stream never buffers: pause(), resume() and read() stop and start reading. */
  #onreadLive(): Onread | null {
    return this.#onread && !this.connecting && this.#h && !this.destroyed ? this.#onread : null;
  }

  override pause(): this {
    if ((this.#flags & WRAPPED) !== 0) {
      // The wrapper's readStop: the core stops delivering; the stream itself is not its.
      wrapperPause(this);
      if ((this.#flags & WANTS_DATA) !== 0) this.#pause();
      return this;
    }
    this.#onreadLive()?.stop(this.#stack.core, this.#h);
    return super.pause();
  }

  override resume(): this {
    if ((this.#flags & WRAPPED) === 0 && this.listenerCount('data') > 0 &&
      wrappedAsStream(this, (this as unknown as { _readableState: ReadableState })._readableState)) {
      this.#flags |= WRAPPED;
    }
    if ((this.#flags & WRAPPED) !== 0) {
      // The wrapper's readStart: what came meanwhile first, then the core delivers again.
      if (wrapperResume(this) && !this.destroyed) this._read(0);
      return this;
    }
    // The stream's own resume runs its flow on the next tick; held-back bytes come after it.
    super.resume();
    this.#onreadLive()?.start(this, this.#stack.core, () => this.#h);
    return this;
  }

  override read(n?: number): any {
    this.#onreadLive()?.start(this, this.#stack.core, () => this.#h);
    return super.read(n);
  }

  // ------------------------------------------------------------------ writing

  override _write(chunk: Chunk, encoding: BufferEncoding | 'buffer', cb: (err?: Error | null) => void): void {
    this.#writeGeneric(false, chunk, encoding, cb);
  }

  override _writev(chunks: { chunk: Chunk; encoding: BufferEncoding | 'buffer' }[], cb: (err?: Error | null) => void): void {
    this.#writeGeneric(true, chunks, '', cb);
  }

  #writeGeneric(writev: boolean, data: any, encoding: string, cb: (err?: Error | null) => void): void {
    const connector = this.#connector;
    if (this.connecting && connector) {
      // Held until 'connect', like Node; bytesWritten counts it meanwhile.
      connector.pendingData = data;
      connector.pendingEncoding = encoding;
      this.#writeOnConnect(writev, data, encoding, cb, ERR_SOCKET_CLOSED_BEFORE_CONNECTION, () => {
        connector.pendingData = null;
        if (this.#connector === connector && !this.connecting) this.#connector = null;
      });
      return;
    }
    if ((this.#flags & WRAPPED) !== 0 && !this.connecting && this.#family === -1 && !this.destroyed) {
      // tls wrapped this socket before its connect() (tls.connect({ socket: new Socket() })).
      // Given a node:net Socket without a connection, tls waits for its 'connect' before the
      // handshake; given this one, it writes at once: the write waits for 'connect' here.
      this.#writeOnConnect(writev, data, encoding, cb, ERR_SOCKET_CLOSED);
      return;
    }
    if (!this.#hasConnection()) {
      cb(ERR_SOCKET_CLOSED());
      return;
    }
    if (!writev && encoding === 'buffer' && typeof data === 'string') {
      // A string said to be a buffer: libuv's writeBuffer refuses it, thrown out of write().
      throw Object.assign(new TypeError('Second argument must be a buffer'), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    if (this.#handleObj !== null && this.#handleObj[kClosed] !== 0) {
      cb(errnoException(ERRNO.EBADF, 'write')); // written to a closed handle, as libuv answers
      return;
    }
    const bufs: Uint8Array[] = writev
      ? (data as { chunk: Chunk; encoding: BufferEncoding }[]).map((e) => toBuffer(e.chunk, e.encoding))
      : [toBuffer(data as Chunk, encoding as BufferEncoding)];
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    this.#dispatched += bytes;
    const refund = !writev && typeof data === 'string' && triedFromStack(data, encoding);
    const req: WriteRequest = { bufs, i: 0, off: 0, offered: false, offering: false, again: false, refund, cb,
      hold: writev ? writevIterations(bufs.length) : 0, held: null, limit: bufs.length, callEnd: bufs.length, late: false };
    this.#req = req;
    if (req.hold === 1 && bufs.length <= 2 * IOV_MAX && this.#stack.backend.lateWrite !== undefined) {
      // Up to 2·IOV_MAX buffers: the backend sends the second call's as libuv's uv_write does,
      // and libuv completes the write from its pending callbacks on this socket's own handle,
      // where a shutdown that end() asked for meanwhile (the completion's 'finish' path) is made
      // there and then, before the poll that reads the peer's answer — as on node:net.
      req.hold = 0;
      req.late = true;
      req.callEnd = IOV_MAX;
    }
    if (req.hold > 0) {
      req.limit = Math.min(bufs.length, 2 * IOV_MAX);
      req.callEnd = IOV_MAX;
      // Up to 2·IOV_MAX buffers go in two calls at once, and libuv completes the write from its
      // pending callbacks (pendingPhase): after the callback that wrote and all its ticks and
      // microtasks, before any of the check phase (even one queued before the write). More wait
      // for the socket to be writable again, and each later poll phase sends IOV_MAX more, the
      // last of them completing it. Written from its own I/O callback (a response in its
      // request's handler), that socket is the first its next poll phase serves (epoll looks
      // first at what it reported the time before), ahead of the reads of its peers, which its
      // bytes made ready after: so each step runs from the pending callbacks that open the next
      // iteration, before its poll (a close-phase callback asks for them: closePhase).
      const backend = this.#stack.backend;
      const pending = backend.pendingPhase;
      const closing = backend.closePhase;
      if (pending !== undefined && closing !== undefined) {
        // Reached through a close phase (more than 2·IOV_MAX buffers), not in the call's own iteration.
        const later = req.hold > 1;
        const step = (): void => {
          stepping = req;
          try {
            this.#sendMore(req);
          } finally {
            stepping = null;
          }
          if (--req.hold > 0 && !this.destroyed) { nextIteration(); return; }
          req.hold = 0;
          const done = req.held;
          req.held = null;
          // Its handle closed before libuv's pending callbacks came (the socket was destroyed
          // in the call's own iteration): libuv completes it as the handle closes, in the close
          // phase (ahead of the socket's 'close', closed earlier: the last closed runs first).
          if (done !== null && this.destroyed && !later) closing.call(backend, done);
          else done?.();
        };
        const nextIteration = (): void => closing.call(backend, () => pending.call(backend, step));
        if (!later) pending.call(backend, step);
        else {
          req.hold--; // one step per later poll phase
          nextIteration();
        }
      } else {
        // Without the loop's phases (Deno, Bun, the simulator): late in this drain of ticks and
        // microtasks (lateInDrain), and the check phases after the poll phases that would send.
        let first = true;
        const step = (): void => {
          // The first check phase after the call is still the iteration it was made in; each
          // later one follows a poll phase that sent IOV_MAX more, the last of them completing it.
          if (first) first = false;
          else this.#sendMore(req);
          if (--req.hold > 0) { setImmediate(step); return; }
          const done = req.held;
          req.held = null;
          done?.();
        };
        if (bufs.length <= 2 * IOV_MAX) lateInDrain(step, DRAIN_HOPS);
        else setImmediate(step);
      }
    }
    this.#feed();
    if (this.#req === req) this.#lastWrite = bytes; // not done in write() itself: in progress
  }

  /**
   * The idle timeout expired. As on node:net, a write in progress whose queue moved since the
   * last look (at first: since it was made) puts the 'timeout' off by one more period: a socket
   * whose peer reads slowly is not idle. (Node compares the handle's writeQueueSize with what it
   * was; here the core's count of the same bytes.)
   */
  #onTimeout(): void {
    const last = this.#lastWrite;
    if (last > 0 && this.#h !== 0) {
      const size = this[kWriteQueueSize]();
      if (size !== last) {
        this.#lastWrite = size;
        this.#stack.core.apiRefreshTimeout(this.#h);
        return;
      }
    }
    this.emit('timeout');
  }

  /** A long writev's next IOV_MAX buffers may go now (a later poll phase of libuv's would send them). */
  #sendMore(req: WriteRequest): void {
    if (req.limit >= req.bufs.length) return;
    req.limit = Math.min(req.bufs.length, req.limit + IOV_MAX);
    if (this.#req === req) this.#feed(); // not another request's (the socket connected anew)
  }

  /** Writes once 'connect' comes; a 'close' before it fails the write with `closed()`. */
  #writeOnConnect(writev: boolean, data: any, encoding: string, cb: (err?: Error | null) => void,
    closed: () => Error, connected?: () => void): void {
    const onClose = () => cb(closed());
    this.once('connect', () => {
      this.off('close', onClose);
      connected?.();
      this.#writeGeneric(writev, data, encoding, cb);
    });
    this.once('close', onClose);
  }

  /**
   * Offers the current request to the core, piece by piece, until it refuses or all is given.
   * Small chunks of a writev are gathered into one piece (one WRITE, one system call), as
   * libuv's writev sends many buffers at once.
   */
  #feed(): void {
    const req = this.#req;
    if (!req || req.offered || this.#h === 0) return;
    // WRITABLE can come while a piece of this request is still being offered (the backend
    // confirmed a WRITE of that very input at once, and the queue drained): the cursor has not
    // moved past the piece yet, so the loop that offers it goes on, not a nested one. (A
    // nested call for the next request — a completed one's callback wrote again — runs at
    // once, as net.js writes it at once.)
    if (req.offering) {
      req.again = true;
      return;
    }
    req.offering = true;
    try {
      this.#offer(req);
    } finally {
      req.offering = false;
    }
  }

  #offer(req: WriteRequest): void {
    const core = this.#stack.core;
    const size = core.scratchSize;
    for (;;) {
      req.again = false;
      let total = 0;
      let last: boolean;
      let n: number;
      if (req.i >= req.limit && req.limit < req.bufs.length) return; // the rest goes in later loop iterations
      if (req.i >= req.callEnd) {
        // The next IOV_MAX buffers of a long writev are libuv's next system call: what this
        // turn batched leaves first, so that this one is a WRITE of its own, and an error it
        // meets (the peer reset after the first call) fails the writev, as on node:net.
        req.callEnd = req.i + IOV_MAX;
        this.#stack.flushNow();
        if (this.#req !== req) return;
      }
      const end = Math.min(req.limit, req.callEnd);
      const b = req.bufs[req.i];
      if (b !== undefined && (req.i === end - 1 || b.length - req.off >= size)) {
        // One piece (most writes): the rest of this buffer, up to the core's limit (1 GiB),
        // offered without a copy.
        const off = req.off;
        total = Math.min(b.length - off, core.writeLimit);
        last = req.i === req.bufs.length - 1 && off + total === b.length;
        if (last && req.late) this.#stack.backend.lateWrite!(this.#h);
        n = core.apiWrite(this.#h, off === 0 && total === b.length ? b : b.subarray(off, off + total), last);
      } else {
        // Several buffers (writev) go as one piece, up to scratch's size.
        const parts: Uint8Array[] = [];
        let i = req.i;
        let off = req.off;
        while (i < end && total < size) {
          const p = req.bufs[i];
          const take = Math.min(p.length - off, size - total);
          if (take > 0) parts.push(off === 0 && take === p.length ? p : p.subarray(off, off + take));
          total += take;
          off += take;
          if (off === p.length) { i++; off = 0; }
        }
        last = i === req.bufs.length;
        if (last && req.late) this.#stack.backend.lateWrite!(this.#h);
        n = core.apiWriteParts(this.#h, parts, total, last);
      }
      if (this.#req !== req) return; // completed (or failed) while we offered it
      if (n < 0) {
        this.#req = null;
        this.#refused(req);
        req.cb(errnoException(-n, 'write'));
        return;
      }
      advance(req, n);
      if (last && n === total) { // all handed over
        req.offered = true;
        return;
      }
      if (n < total && !req.again) return; // full: WRITABLE resumes us
    }
  }

  #writeDone(status: number): void {
    const req = this.#req;
    if (!req) return;
    this.#req = null;
    if (status !== 0) {
      // The request fails with the error, as libuv fails the write, and the stream destroys;
      // until then, the transport's errors of other WRITEs in flight are this one.
      this.#flags |= WRITE_FAILED;
      const first = req.offering && req.i === 0 && req.off === 0;
      // A long writev whose first call failed fails in write() itself, as any write does (libuv
      // answers its try-write at once); one whose later call failed, from that call's phase.
      const pending = this.#stack.backend.pendingPhase;
      if (req.hold > 0) {
        if (!first && pending !== undefined && stepping !== req) {
          // libuv fails it from its pending callbacks; a step of it that sent more (below)
          // completes it itself, as the poll phase that sends fails it.
          req.hold = 0;
          pending.call(this.#stack.backend, () => this.#complete(req, status));
          return;
        }
        req.hold = first ? 0 : 1;
      } else if (req.offering && !first) {
        // A later system call of the request failed while it was being written (the peer reset
        // after the first, and the rest of a long write or writev met it). libuv answers in
        // write() itself only when the first one fails; this one from its pending callbacks
        // (without them, the check phase stands in).
        const complete = (): void => this.#complete(req, status);
        if (pending !== undefined) pending.call(this.#stack.backend, complete);
        else setImmediate(complete);
        return;
      }
    }
    if (req.hold > 0) {
      // A long writev: node:net would still be sending it (IOV_MAX).
      req.held = () => this.#complete(req, status);
      return;
    }
    this.#complete(req, status);
  }

  #complete(req: WriteRequest, status: number): void {
    if (status === 0) this.#lastWrite = 0;
    if (status === 0 || this.destroyed) {
      req.cb(null);
    } else {
      this.#refused(req);
      req.cb(errnoException(status, 'write'));
    }
  }

  /** The end waiting in _final is over: done, or failed with `err` (the stream then calls end()'s callbacks and destroys). */
  #endDone(err?: Error): void {
    const cb = this.#finalCb;
    this.#finalCb = null;
    cb?.(err);
  }

  /** A failed request leaves bytesWritten when Node's string write would not have counted it. */
  #refused(req: WriteRequest): void {
    if (req.refund) for (const b of req.bufs) this.#dispatched -= b.length;
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.pending) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.#h === 0) {
      cb();
      return;
    }
    this.#finalCb = cb;
    const status = this.#stack.core.apiEnd(this.#h);
    if (status !== 0 && this.#finalCb === cb) {
      this.#finalCb = null;
      cb(); // nothing left to end (Node treats ENOTCONN as done)
    }
  }

  override end(...args: any[]): this {
    (Duplex.prototype.end as Function).apply(this, args);
    return this;
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', this.destroy);
  }

  // ------------------------------------------------------------------ closing

  override _destroy(exception: Error | null, cb: (err?: Error | null) => void): void {
    this.connecting = false;
    if (this.#flags & SENT) {
      // Node's server counted the connection out when it was sent, and counts it out again now.
      this.#flags &= ~SENT;
      (this.server as { [kSentDestroyed]?: () => void } | undefined)?.[kSentDestroyed]?.();
    }
    const h = this.#h;
    if (h !== 0 && (this.#flags & BARE) !== 0) {
      // A core socket made only for setTimeout(), never connected: Node has no handle to close,
      // so 'close' comes at once, as below. The core lets go of it (its timer too).
      this.#h = 0;
      this.#stack.unregister(h, this);
      this.#stack.core.apiDestroy(h, 0);
    }
    if (this.#h === 0) {
      cb(exception);
      if (this.#flags & TRAPPED) process.nextTick(() => this.emit('close', true));
      else process.nextTick(() => this.emit('close'));
      return;
    }
    const handle = this.#handleObj;
    if (handle !== null && handle[kClosed] !== 0) {
      // `_handle.close()` closed the transport already: 'close' follows its CLOSED.
      this.#h = 0;
      cb(exception);
      if (handle[kClosed] === 2) process.nextTick(() => this.emit('close', !!exception));
      else if (exception) this.#flags |= CLOSE_ERROR;
      return;
    }
    this.#bytesRead = this.#stack.core.bytesRead(h);
    if ((this.#flags & RESET) !== 0) {
      // resetAndDestroy(): Node resets before it lets go of the handle and calls back, so the
      // 'error' of a refused reset comes while the socket still has its handle (not pending).
      this.#flags &= ~RESET;
      this.#stack.core.apiDestroy(h, 1 | (exception ? 2 : 0));
      this.#h = 0;
      cb(exception);
      return;
    }
    // Bytes an onread socket never handed over wait in the core; Node leaves them in the kernel,
    // whose close of a socket with unread bytes resets the connection (not after a FIN of ours).
    const reset = this.#onread !== null && !this.writableEnded && this.#onread.unread(this.#stack.core, h) ? 1 : 0;
    this.#h = 0;
    // The stream's destroy callback first, then the core: as in Node's _destroy, the socket's
    // 'error' is queued before a closed server's 'close' that this socket's end lets come.
    cb(exception);
    this.#stack.core.apiDestroy(h, (exception ? 2 : 0) | reset);
  }

  resetAndDestroy(): this {
    if (this.#h !== 0) {
      if (this.#isIpc()) throw ERR_INVALID_HANDLE_TYPE();
      if (this.connecting) this.once('connect', () => this.#reset());
      else this.#reset();
    } else {
      this.destroy(ERR_SOCKET_CLOSED());
    }
    return this;
  }

  #reset(): void {
    this.#flags |= RESET;
    this.destroy();
  }

  // ------------------------------------------------------------------ options and state

  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    msecs = timerDuration(msecs, 'msecs');
    if (msecs === 0) {
      if (this.#h !== 0) this.#stack.core.apiSetTimeout(this.#h, 0);
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.removeListener('timeout', callback);
      }
    } else {
      if (this.#h === 0) this.#flags |= BARE;
      this.#stack.core.apiSetTimeout(this.#handle(), Math.max(1, msecs));
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.once('timeout', callback);
      }
    }
    return this;
  }

  /** Kept for every new connection; the core tells the transport only of changes. */
  setNoDelay(enable?: boolean): this {
    enable = Boolean(enable === undefined ? true : enable);
    if (this.#flags & FOREIGN) {
      const h = this.#handleObj as unknown as { setNoDelay?: (on: boolean) => void };
      if (h.setNoDelay && enable !== ((this.#opts & NO_DELAY) !== 0)) {
        this.#opts ^= NO_DELAY;
        h.setNoDelay(enable);
      }
      return this;
    }
    if (this.#h !== 0 && this.#isIpc()) return this; // a pipe has no options (nor does Node's)
    this.#opts = enable ? this.#opts | NO_DELAY : this.#opts & ~NO_DELAY;
    if (this.#h !== 0) this.#stack.core.apiSetOption(this.#h, Opt.NoDelay, enable ? 1 : 0, 0);
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMsecs?: number): this {
    enable = Boolean(enable);
    const initialDelay = ~~((initialDelayMsecs as number) / 1000);
    if (this.#flags & FOREIGN) {
      const h = this.#handleObj as unknown as { setKeepAlive?: (on: boolean, delay: number) => void };
      const was = (this.#opts & KEEP_ALIVE) !== 0;
      if (h.setKeepAlive && (enable !== was || (enable && initialDelay !== this.#opts >> 2))) {
        this.#opts = (this.#opts & NO_DELAY) | (enable ? KEEP_ALIVE : 0) | (initialDelay << 2);
        h.setKeepAlive(enable, initialDelay);
      }
      return this;
    }
    if (this.#h !== 0 && this.#isIpc()) return this;
    this.#opts = (this.#opts & NO_DELAY) | (enable ? KEEP_ALIVE : 0) | (initialDelay << 2);
    if (this.#h === 0) return this;
    const core = this.#stack.core;
    // Node's handle made by connect() before its socket exists (connect(2) still to come: the next
    // tick, or after the lookup) only marks keep-alive, and libuv turns it on when it makes the
    // socket with a delay of its own, 60 s; 'connect' then sets the delay asked for (none: the
    // 60 s stay).
    const marked = enable && initialDelay === 0 && this.connecting && (core.socketFlags(this.#h) & 8) === 0;
    core.apiSetOption(this.#h, Opt.KeepAlive, enable ? 1 : 0, marked ? LIBUV_KEEPALIVE_MS : initialDelay * 1000);
    return this;
  }

  address(): AddressInfo | {} {
    return this.#getsockname();
  }

  #setNames(family: number, localAddress: string, localPort: number, remoteAddress: string, remotePort: number): void {
    this.#family = family;
    this.#localAddress = localAddress;
    this.#localPort = localPort;
    this.#remoteAddress = remoteAddress;
    this.#remotePort = remotePort;
    this.#sock = null;
    this.#flags &= ~(PEER_READ | LOCAL_ASKED | PEER_ASKED);
  }

  #getsockname(): AddressInfo {
    // (While connecting, #sock is the name of #askConnecting; #setNames forgets it at 'connect'.)
    if (this.connecting && this.#h !== 0) return this.#sock ??= this.#askConnecting();
    if (!this.#local()) return {};
    return this.#sock ??= { address: this.#localAddress, family: familyName(this.#family), port: this.#localPort };
  }

  /**
   * The local name while connecting, as Node's `_sockname` has it: asked for at first use and
   * kept until 'connect' — the bound address of the attempt in flight, or {} when there is none
   * yet (a lookup under way, a pipe).
   */
  #askConnecting(): AddressInfo {
    const name = this.#stack.backend.localName?.(this.#h) ?? null;
    if (name === null || name.address === '' || this.#stack.core.apiName(this.#h, false, name.port, name.address) !== 0) {
      return {} as AddressInfo;
    }
    return { address: internAddress(name.address), family: name.address.includes(':') ? 'IPv6' : 'IPv4', port: name.port };
  }

  /**
   * The local end is known while there is a connection: not for IPC, and not where the transport
   * does not know it (workerd's connect() reports no local address: as in Node when getsockname fails).
   */
  #local(): boolean {
    if (this.#h === 0 || this.#family <= 0) return false;
    if (this.#localAddress === '' && (this.#flags & LOCAL_ASKED) === 0) this.#ask(false);
    return this.#localAddress !== '';
  }

  /**
   * A transport may leave names out at connect or accept (the node backend: an IPv4 client's
   * local name, both names of an accepted TCP connection; Node calls getsockname and getpeername
   * only when asked, and so does wasinet). Each is asked once, on first use; the core is told
   * the answer (apiLocalName, apiPeerName), so a trace has it and an application replay gives it back.
   */
  #ask(peer: boolean): void {
    this.#flags |= peer ? PEER_ASKED : LOCAL_ASKED;
    const backend = this.#stack.backend;
    const name = (peer ? backend.peerName?.(this.#h) : backend.localName?.(this.#h)) ?? null;
    if (name === null || name.address === '') return;
    if (this.#stack.core.apiName(this.#h, peer, name.port, name.address) !== 0) return;
    const address = internAddress(name.address);
    if (peer) {
      this.#remoteAddress = address;
      this.#remotePort = name.port;
    } else {
      this.#localAddress = address;
      this.#localPort = name.port;
      this.#sock = null;
    }
  }

  /** Like Node: the peer is known while connected; after close, only if it was read while connected. */
  #peer(): boolean {
    if (this.#family <= 0) return false;
    if (this.#h === 0 || this.connecting) return (this.#flags & PEER_READ) !== 0;
    if (!this.#peerKnown()) return false;
    this.#flags |= PEER_READ;
    return true;
  }

  /**
   * The peer's name is at hand: reported at connect, or (left out at accept) asked for now,
   * once, as node:net's getpeername, which, failing, gives nothing.
   */
  #peerKnown(): boolean {
    if (this.#remoteAddress === '' && this.#h !== 0 && (this.#flags & PEER_ASKED) === 0) this.#ask(true);
    return this.#remoteAddress !== '';
  }

  #getpeername(): AddressInfo {
    return this.#peer() ? { address: this.#remoteAddress, family: familyName(this.#family), port: this.#remotePort } : {};
  }

  // Node's three read its _getsockname(): the connecting socket's name too (#getsockname).
  get localAddress(): string | undefined { return this.#getsockname().address; }
  get localPort(): number | undefined { return this.#getsockname().port; }
  get localFamily(): string | undefined { return this.#getsockname().family; }
  get remoteAddress(): string | undefined { return this.#peer() ? this.#remoteAddress : undefined; }
  get remoteFamily(): string | undefined { return this.#peer() ? familyName(this.#family) : undefined; }
  get remotePort(): number | undefined { return this.#peer() ? this.#remotePort : undefined; }

  /**
   * Node's `!this._handle || this.connecting`. A core socket made only for setTimeout(), never
   * connected nor accepted, has no handle in Node yet.
   */
  get pending(): boolean {
    return this.#h === 0 || this.connecting || (this.#flags & BARE) !== 0;
  }

  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** undefined without a connection, as in Node (whose types say number). */
  get bufferSize(): number {
    return (this.#h !== 0 ? this.writableLength : undefined) as number;
  }

  get bytesRead(): number {
    const h = this.#h;
    const n = h === 0 || (this.#handleObj !== null && this.#handleObj[kClosed] !== 0) ? this.#bytesRead : this.#stack.core.bytesRead(h);
    // (The core counts what it delivered; a byte an onread buffer of nothing refused was never read.)
    return this.#onread === null ? n : n - this.#onread.refused;
  }

  get _bytesDispatched(): number {
    return this.#dispatched;
  }

  /** undefined once the stream is destroyed, as in Node (whose types say number). */
  get bytesWritten(): number {
    let bytes = this.#dispatched;
    const buffered = (this as unknown as { writableBuffer?: unknown[] }).writableBuffer;
    if (!buffered) return undefined as unknown as number;
    for (const el of buffered as { chunk: Chunk; encoding: BufferEncoding }[]) bytes += byteLength(el.chunk, el.encoding);
    const data = this.#connector?.pendingData;
    if (Array.isArray(data)) {
      // A writev waiting for 'connect'. Node 20 adds `length` of its entries when all its chunks
      // are buffers (`allBuffers`), and the entries are { chunk, encoding }: NaN, as there.
      const allBuffers = (data as { allBuffers?: boolean }).allBuffers === true;
      for (const c of data) bytes += allBuffers || c instanceof Buffer ? c.length : byteLength(c.chunk, c.encoding);
    } else if (data) {
      bytes += byteLength(data as Chunk, this.#connector!.pendingEncoding as BufferEncoding);
    }
    return bytes;
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  // Node's underscore members that code outside net.js calls or reads (libraries, Node's tests).
  get _pendingData(): unknown { return this.#connector?.pendingData ?? null; }
  get _pendingEncoding(): string { return this.#connector?.pendingEncoding ?? ''; }
  _getsockname(): AddressInfo { return this.#getsockname(); }
  _getpeername(): AddressInfo { return this.#getpeername(); }
  /** What Node's timer calls when the idle timeout fires. */
  _onTimeout(): void { this.emit('timeout'); }
  _reset(): this { this.#reset(); return this; }
  _writeGeneric(writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void): void {
    this.#writeGeneric(writev, data, encoding, cb);
  }

  /**
   * Node's timer refresh for consumers that see the socket's traffic without 'data' events
   * (the http server calls it when its parser consumed the handle): activity for the idle
   * timeout, of this socket and of the sockets it wraps (`_parent`).
   */
  _unrefTimer(): void {
    for (let s: unknown = this; s != null; s = (s as { _parent?: unknown })._parent) {
      if (!(s instanceof Socket)) {
        (s as { _unrefTimer?: () => void })._unrefTimer?.();
        return;
      }
      if (s.#h !== 0 && s.timeout) s.#stack.core.apiRefreshTimeout(s.#h);
    }
  }

  ref(): this {
    if (this.#h === 0) {
      this.once('connect', this.ref);
      return this;
    }
    this.#stack.core.apiRef(this.#h, true);
    return this;
  }

  unref(): this {
    if (this.#h === 0) {
      this.once('connect', this.unref);
      return this;
    }
    this.#stack.core.apiRef(this.#h, false);
    return this;
  }

  // ------------------------------------------------------------------ _handle

  /**
   * The core socket stands for a connection — being set up, accepted, or opened from an fd — so
   * `_handle` shows one (a socket made only for setTimeout() has a core socket but no connection).
   */
  #hasConnection(): boolean {
    return this.#h !== 0 && (this.#flags & DETACHED) === 0 && (this.connecting || this.#family !== -1);
  }

  /**
   * Node's `_handle`: while there is a connection, wasinet's stand-in for the libuv handle
   * (handle.ts) — never the transport's own, which Node's http, tls and http2 would read and
   * write past the core.
   */
  get _handle(): PipeHandle | null {
    if (this.#flags & FOREIGN) return this.#handleObj;
    if (!this.#hasConnection()) return null;
    return this.#handleObj ??= this.#isIpc() ? new PipeHandle(this) : new TcpHandle(this);
  }

  /** `socket._handle = null` detaches the socket from its connection, as in Node: writes then fail with ERR_SOCKET_CLOSED. */
  set _handle(value: object | null) {
    if (value === null) this.#flags |= DETACHED;
  }

  /** SET_OPTION from the core: through `_handle`'s option calls when it was handed out. */
  [kSetOption](o: Output): void {
    if (this.#handleObj !== null) applyOption(this.#handleObj, o);
    else this.#stack.backend.exec(o);
  }

  /** `_handle.readStart()`: what net.js does when the Readable wants data. */
  [kReadStart](): number {
    if (this.#h === 0 || this.connecting) return 0;
    const onread = this.#onread;
    if (onread) {
      onread.start(this, this.#stack.core, () => this.#h);
    } else {
      this.#read();
    }
    return 0;
  }

  /** `_handle.readStop()`: what net.js does when a push is refused. */
  [kReadStop](): number {
    if (this.#h === 0) return 0;
    const onread = this.#onread;
    if (onread) {
      onread.stop(this.#stack.core, this.#h);
    } else {
      this.#pause();
    }
    return 0;
  }

  [kReading](): boolean {
    if (this.#onread) return this.#onread.reading(this.#stack.core, this.#h);
    return this.#h !== 0 && (this.#stack.core.socketFlags(this.#h) & 1) !== 0;
  }

  [kTransportOption](opt: number, value: number, value2: number): void {
    if (this.#h !== 0 && this.#handleObj?.[kClosed] === 0) {
      this.#stack.backend.exec({ op: Op.CMD_SET_OPTION, h: this.#h, a: opt, b: value, c: value2, data: null });
    }
  }

  /**
   * `_handle.close()`: the transport closes under the socket, which is not told (as with a
   * libuv handle closed directly): it learns at its next write (EBADF) or when destroyed.
   */
  [kCloseTransport](handle: PipeHandle, cb?: () => void): void {
    if (this.#h === 0 || handle !== this.#handleObj || handle[kClosed] !== 0) return;
    handle[kClosed] = 1;
    handle[kCloseCb] = cb ?? null;
    this.#bytesRead = this.#stack.core.bytesRead(this.#h);
    this.#stack.core.apiDestroy(this.#h, 0);
  }

  /** Nothing for a plain socket; a TLS socket (tls.ts) tells the backend that `h` carries its session. */
  [kCarry](_h: number): void {}

  [kHandleOf](): number { return this.#h; }

  /**
   * child_process's send() of this socket (child-send.ts): its OS handle; unless `keepOpen` the
   * connection then leaves this process as node:net's send lets it go — `_handle` null, writes
   * fail with ERR_SOCKET_CLOSED, no 'close' unless destroyed — and the core closes its side
   * (a server counts the connection as closed).
   */
  [kSendHandle](keepOpen: boolean): SendCarrier | null {
    if (this.#flags & FOREIGN) return null;
    if (!this.#hasConnection()) return { handle: null }; // node:net's send sends the message alone
    const stack = this.#stack;
    const backend = stack.backend;
    if (this.connecting || backend.sendConn === undefined) return null;
    const h = this.#h;
    if (keepOpen) return backend.sendConn(h, true);
    stack.flushNow(); // this turn's writes still in the core go to the transport before the handle goes
    const carrier = backend.sendConn(h, false);
    if (carrier === null || this.#h !== h) return carrier;
    this.#bytesRead = stack.core.bytesRead(h);
    this.#flags |= DETACHED | SENT;
    this.#h = 0;
    stack.unregister(h, this);
    stack.core.apiDestroy(h, 0);
    this.setTimeout(0);
    return carrier;
  }

  [kStackOf](): Stack { return this.#stack; }

  /**
   * Opens this socket as the TLS session of `parent`'s connection (tls.ts: apiOpen's kind 2): the
   * transport takes that connection over and reports onConnect once the handshake is over.
   */
  [kTakeOver](parent: number): void {
    const h = this.#handle();
    if (h === 0) return;
    this[kCarry](h);
    this.#open(parent, 2);
  }

  [kFd](): number {
    return this.#h !== 0 && this.#handleObj?.[kClosed] !== 1 && this.#handleObj?.[kClosed] !== 2
      ? this.#stack.backend.fdOf(this.#h) : -1;
  }

  [kWriteQueueSize](): number {
    return this.#h !== 0 ? Math.max(0, this.#stack.core.writeQueueSize(this.#h)) : 0;
  }

  [kWriteRoom](): number {
    return this.#h !== 0 ? this.#stack.core.writeRoom(this.#h) : 0;
  }

  [kRefHandle](on: boolean): void {
    if (this.#h !== 0) this.#stack.core.apiRef(this.#h, on);
  }

  [kHasRef](): boolean {
    return this.#h !== 0 && (this.#stack.core.socketFlags(this.#h) & 2) !== 0;
  }

  [kSockname](): object { return { ...this.#getsockname() }; }
  [kPeername](): object {
    if (this.#family <= 0 || !this.#peerKnown()) return {};
    return { address: this.#remoteAddress, family: familyName(this.#family), port: this.#remotePort };
  }

  /** The core handle (0 when none); for tests and for the Server. */
  get _wasinetHandle(): number {
    return this.#h;
  }

  static {
    guardAccessors(Socket.prototype, (o) => #h in o, { pending: true, readyState: 'closed' });
  }
}

// Read on the prototype: most sockets never set it.
(Socket.prototype as unknown as { _closeAfterHandlingError: boolean })._closeAfterHandlingError = false;

/** Moves a request's cursor past `n` bytes the core took. */
function advance(req: WriteRequest, n: number): void {
  while (n > 0) {
    const left = req.bufs[req.i].length - req.off;
    if (n < left) { req.off += n; return; }
    n -= left;
    req.i++;
    req.off = 0;
  }
  while (req.i < req.bufs.length && req.bufs[req.i].length === req.off) { req.i++; req.off = 0; }
}

// Called when 'end' is emitted: without allowHalfOpen, later writes get Node's EPIPE error.
function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as typeof this.write;
}

function writeAfterFIN(this: Socket, chunk: any, encoding?: any, cb?: any): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding, cb);
  if (typeof encoding === 'function') { cb = encoding; encoding = null; }
  const er = endedByOtherParty();
  if (typeof cb === 'function') process.nextTick(cb, er);
  this.destroy(er);
  return false;
}

/**
 * Node 20's stream buffers (16 KiB) where the runtime's node:stream defaults to Node 22's
 * (64 KiB: Deno, Bun), unless the program changed the default: write()'s answer and 'drain'
 * then come as on Node 20. The socket's own options still decide, with Node's precedence.
 */
function node20Buffers(o: { highWaterMark?: number }): number | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if ((g.Deno === undefined && g.Bun === undefined) || getDefaultHighWaterMark(false) !== 65536) return undefined;
  return o.highWaterMark ?? 16384;
}

/** The sandbox refused an fd or handle (policy fd: false, or the sockets limit): throw as Node does for an fd it cannot use. */
function refusedOpen(status: number): void {
  if (status === ERRNO.EACCES || status === ERRNO.EMFILE) throw errnoException(status, 'open');
}
