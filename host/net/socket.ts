// net.Socket: a stream.Duplex whose transport is a socket of the Wasm core.
//
// The Duplex gives users what they observe of writing and reading (write()'s answer,
// writableLength, 'drain', 'data', 'end', 'finish') exactly as Node's Socket does, because it
// is the same stream machinery. Below it, every transport decision is the core's: _write hands
// bytes to the core, which completes the callback once the transport took them; _read asks
// the core for data, and a full Readable tells it to pause; end() asks for a FIN, destroy()
// for a close; idle timeouts, connection attempts and byte counts are kept in the core. This
// class turns the core's notifications into Node's events, in Node's order and on Node's ticks.
import { Duplex, addAbortSignal } from 'node:stream';
import { ADDRCONFIG } from 'node:dns';
import type { Output } from '../core/core.js';
import type { CoreTrap } from '../core/core.js';
import { Op, Opt, ERRNO, SYSCALLS } from '../core/abi.js';
import { Stack, getDefaultStack, kNotify, kResolve, kTrapped, kSetOption, type Endpoint } from './stack.js';
import { PipeHandle, TcpHandle, applyOption, type HandleOwner } from './handle.js';
import type { LookupAddress } from '../backend/backend.js';
import { isIP } from './ip.js';
import {
  ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_MISSING_ARGS, ERR_INVALID_IP_ADDRESS, ERR_INVALID_ADDRESS_FAMILY,
  ERR_SOCKET_CLOSED, ERR_SOCKET_CLOSED_BEFORE_CONNECTION, ERR_SOCKET_CONNECTION_TIMEOUT, ERR_INVALID_HANDLE_TYPE,
  exceptionWithHostPort, errnoException, aggregateError, endedByOtherParty,
} from './errors.js';
import {
  validateNumber, validateInt32, validateBoolean, validateString, validateFunction, validatePort,
  timerDuration, validateLookup,
} from './validate.js';
import { guardAccessors } from './accessors.js';
import { normalizeArgs, kNormalized, type NormalizedArgs, autoSelect } from './args.js';

/** How apiConnect is told to reach the peer (see assembly/socket.ts). */
const TARGET_NAME = 0;
const TARGET_IPC = 1;

export const kStack = Symbol('wasinet.stack');
/** Options of a socket accepted by a Server: the core handle and what the core said of it. */
export const kAccepted = Symbol('wasinet.accepted');

export interface AcceptedInfo {
  h: number;
  family: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

interface AddressInfo { address?: string; family?: string; port?: number }

interface WriteRequest {
  bufs: Uint8Array[];
  i: number;
  off: number;
  offered: boolean; // every byte was handed to the core: only its completion is left
  offering: boolean; // a piece is being offered to the core right now
  again: boolean;    // WRITABLE came while it was
  cb: (err?: Error | null) => void;
}

type Chunk = string | Uint8Array;

function familyName(f: number): string | undefined {
  return f === 4 ? 'IPv4' : f === 6 ? 'IPv6' : undefined;
}

function toBuffer(chunk: Chunk, encoding: BufferEncoding | 'buffer'): Uint8Array {
  return typeof chunk === 'string' ? Buffer.from(chunk, encoding === 'buffer' ? 'utf8' : encoding) : chunk;
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
  onread?: { buffer: Uint8Array | (() => Uint8Array); callback: (bytesWritten: number, buf: Uint8Array) => boolean | void };
  [key: string]: unknown;
}

export class Socket extends Duplex implements Endpoint {
  static [kStack]: Stack | null = null;

  connecting = false;
  timeout?: number;
  server: unknown = null;
  _server: unknown = null;
  // Public fields of Node's Socket that its consumers read or set (see docs/design.md).
  _hadError = false;
  _parent: unknown = null;
  _host: string | null = null;
  autoSelectFamilyAttemptedAddresses?: string[];
  declare allowHalfOpen: boolean;

  readonly #stack: Stack;
  #h = 0;              // the core's socket, 0 when there is none (Node's `_handle`)
  #detached = false;    // `_handle = null` was set: the connection is no longer the socket's
  #handleObj: PipeHandle | null = null; // `_handle` while there is a connection (made on first use)
  #transportClosed = 0; // `_handle.close()`: 1 closing, 2 closed (the socket itself not destroyed)
  #transportCloseCb: (() => void) | null = null;
  #closingH = 0;        // the handle being closed after destroy(), until CLOSED
  #ipc = false;
  #sockname: AddressInfo | null = null;
  #peername: AddressInfo | null = null;
  #peerRead = false;     // remoteAddress & co. were read while connected (Node caches them then)
  #pendingData: unknown = null;
  #pendingEncoding = '';
  #dispatched = 0;      // bytes of write requests handed to the core (Node's handle.bytesWritten)
  #received = 0;        // bytes the core handed over (Node counts a read when it happens: these plus what the core holds)
  #bytesRead = 0;       // kept once the handle is gone
  #req: WriteRequest | null = null;
  #finalCb: ((err?: Error | null) => void) | null = null;
  #noDelay: boolean;
  #keepAlive: boolean;
  #keepAliveDelay: number;
  #onreadBuf: Uint8Array | null = null;
  #onreadGen: (() => Uint8Array) | null = null;
  #onreadCb: ((n: number, buf: Uint8Array) => boolean | void) | null = null;
  #leftover: Uint8Array | null = null;
  #reading = false;     // onread mode: reading was started (Node's handle.reading)
  #leftoverQueued = false;
  #closeHadError = false;
  #inDestroy = false;
  #resetAndClosing = false;
  #lookup: Function | null = null;
  #dnsopts: Record<string, unknown> | null = null;
  #host: string | undefined;
  #connectOptions: Record<string, unknown> = {};
  #attemptErrors: Error[] = [];
  #lastAttemptError: Error | null = null;
  #trapped = false;   // the core trapped: close without it
  #opening = false;   // wrapping an fd: the transport reports it connected, with no 'connect'

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
    const opts: SocketOptions = typeof options === 'number' ? { fd: options } : { ...options };
    // The stream's own `signal` handling would destroy this socket from inside super(), before
    // its fields exist: it is attached below, once they do, with the same stream function.
    const { signal, ...streamOpts } = opts;
    super({
      ...streamOpts,
      allowHalfOpen: Boolean(opts.allowHalfOpen),
      emitClose: false,
      autoDestroy: true,
      decodeStrings: false,
    } as never);
    const internal = opts as Record<symbol, unknown>;
    this.#stack = (internal[kStack] as Stack | undefined) ?? (new.target as typeof Socket)[kStack] ?? getDefaultStack();
    if (signal) addAbortSignal(signal, this); // Node ignores a falsy signal
    const accepted = internal[kAccepted] as AcceptedInfo | undefined;

    const onread = opts.onread;
    if (onread !== null && typeof onread === 'object' &&
      (onread.buffer instanceof Uint8Array || typeof onread.buffer === 'function') && typeof onread.callback === 'function') {
      if (typeof onread.buffer === 'function') this.#onreadGen = onread.buffer;
      else this.#onreadBuf = onread.buffer;
      this.#onreadCb = onread.callback;
    }

    this.#noDelay = Boolean(opts.noDelay);
    this.#keepAlive = Boolean(opts.keepAlive);
    this.#keepAliveDelay = ~~((opts.keepAliveInitialDelay as number) / 1000);

    this.on('end', onReadableStreamEnd);

    if (opts.fd !== undefined) {
      validateInt32(opts.fd, 'fd', 0);
      const h = this.#handle();
      this.#opening = true;
      try {
        this.#core.apiOpen(h, opts.fd);
      } catch (err) {
        this.#core.apiDestroy(h, false);
        this.#stack.unregister(h, this);
        this.#h = 0;
        throw err;
      } finally {
        this.#opening = false;
      }
      if (opts.readable !== false) this.read(0);
    }

    if (accepted) {
      this.#adopt(accepted.h);
      this.#sockname = { address: accepted.localAddress, family: familyName(accepted.family), port: accepted.localPort };
      this.#peername = { address: accepted.remoteAddress, family: familyName(accepted.family), port: accepted.remotePort };
      if (accepted.family === 0) { this.#ipc = true; this.#sockname = {}; this.#peername = {}; }
      if (opts.readable !== false) {
        if (opts.pauseOnCreate) (this as { readableFlowing: boolean | null }).readableFlowing = false;
        else if (!opts.manualStart) this.read(0);
      }
    }
  }

  get #core() {
    return this.#stack.core;
  }

  #adopt(h: number): void {
    this.#h = h;
    this.#handleObj = null;
    this.#transportClosed = 0;
    this.#stack.register(h, this);
    this.#initOnreadBuffer();
  }

  #initOnreadBuffer(): void {
    if (this.#onreadGen) {
      const b = this.#onreadGen();
      if (b instanceof Uint8Array) this.#onreadBuf = b;
    }
  }

  /** The core handle, allocated on first need (a timeout may be set before connect). */
  #handle(): number {
    if (this.#h === 0) {
      this.#core.apiSocket((h) => this.#adopt(h));
      this.#applyOptions(this.#h);
    }
    return this.#h;
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
      this.#peername = null;
      this.#peerRead = false;
      this.#sockname = null;
      this.#req = null;
      this.#finalCb = null;
      this.#trapped = false;
      this.#received = 0;     // a new connection counts from zero, as a new handle does in Node
      this.#bytesRead = 0;
      this.#dispatched = 0;
      (this as unknown as { _undestroy(): void })._undestroy();
    }

    const path = options.path as string | undefined;
    const pipe = !!path;
    this.#ipc = pipe;
    this.#connectOptions = options;
    this.#lastAttemptError = null;
    this.#detached = false;
    this.connecting = true;

    if (pipe) {
      validateString(path, 'options.path');
      const h = this.#handle();
      this.#core.apiConnect(h, TARGET_IPC, 0, 0, path!, '', 0, 0);
    } else {
      this.#lookupAndConnect(options);
    }
    return this;
  }

  #lookupAndConnect(options: Record<string, any>): void {
    const { localAddress, localPort } = options;
    const host: unknown = options.host || 'localhost';
    let { port, autoSelectFamilyAttemptTimeout, autoSelectFamily } = options as {
      port: any; autoSelectFamilyAttemptTimeout: any; autoSelectFamily: any };

    if (localAddress && !isIP(localAddress)) throw ERR_INVALID_IP_ADDRESS(localAddress);
    if (localPort) validateNumber(localPort, 'options.localPort');
    if (typeof port !== 'undefined') {
      if (typeof port !== 'number' && typeof port !== 'string') throw ERR_INVALID_ARG_TYPE('options.port', ['number', 'string'], port);
      validatePort(port);
    }
    const portNum: number = (port as number) | 0;

    if (autoSelectFamily != null) validateBoolean(autoSelectFamily, 'options.autoSelectFamily');
    else autoSelectFamily = autoSelect.family;
    if (autoSelectFamilyAttemptTimeout != null) {
      validateInt32(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1);
      if (autoSelectFamilyAttemptTimeout < 10) autoSelectFamilyAttemptTimeout = 10;
    } else {
      autoSelectFamilyAttemptTimeout = autoSelect.attemptTimeout;
    }

    const h = this.#handle();
    const addressType = isIP(host);
    if (addressType) {
      // Node connects to an address literal on the next tick, so listeners attached after
      // connect() still see 'connectionAttempt'.
      process.nextTick(() => {
        if (this.connecting && this.#h === h) {
          this.#core.apiConnect(h, addressType, portNum, localPort | 0, host as string, localAddress || '', 0, 0);
        }
      });
      return;
    }

    if (options.lookup != null) validateFunction(options.lookup, 'options.lookup');
    const dnsopts: Record<string, unknown> = { family: socketToDnsFamily(options.family), hints: options.hints || 0 };
    if (process.platform !== 'win32' && dnsopts.family !== 4 && dnsopts.family !== 6 && dnsopts.hints === 0) {
      dnsopts.hints = ADDRCONFIG;
    }
    const all = dnsopts.family !== 4 && dnsopts.family !== 6 && !localAddress && autoSelectFamily;
    if (all) dnsopts.all = true;
    this.#host = host as string;
    this._host = host as string;
    this.#lookup = options.lookup ?? null;
    this.#dnsopts = dnsopts;
    const fam = typeof dnsopts.family === 'number' ? dnsopts.family & 15 : 0;
    const flags = fam | (all ? 16 : 0) | (((dnsopts.hints as number) | 0) << 8);
    // The core records the name as text; the lookup gets the value given (Node's dns.lookup
    // rejects a non-string host name itself, synchronously, like here).
    this.#core.apiConnect(h, TARGET_NAME, portNum, localPort | 0, String(host), localAddress || '', flags, autoSelectFamilyAttemptTimeout);
  }

  /** RESOLVE from the core: run the lookup, interpret it as Node does, report the addresses. */
  [kResolve](o: Output): void {
    const h = o.h;
    const host = this.#host!;
    const dnsopts = { ...this.#dnsopts };
    const lookup = this.#lookup ?? ((name: unknown, opts: any, cb: any) => {
      validateLookup(name, opts); // what dns.lookup checks, whichever backend resolves
      this.#stack.backend.lookup(name, opts, cb);
    });
    if (dnsopts.all) {
      lookup(host, dnsopts, (err: Error | null, addresses: LookupAddress[]) => this.#lookedUpAll(h, host, err, addresses));
    } else {
      lookup(host, dnsopts, (err: Error | null, ip: string, addressType: number) => {
        this.emit('lookup', err, ip, addressType, host);
        if (!this.connecting || this.#h !== h) return;
        if (err) process.nextTick(() => this.destroy(err));
        else if (!isIP(ip)) process.nextTick(() => this.destroy(ERR_INVALID_IP_ADDRESS(ip)));
        else if (addressType !== 4 && addressType !== 6) {
          const e = ERR_INVALID_ADDRESS_FAMILY(addressType, this.#connectOptions.host, this.#connectOptions.port);
          process.nextTick(() => this.destroy(e));
        } else this.#core.onResolved(h, [{ address: ip, family: addressType }]);
      });
    }
  }

  #lookedUpAll(h: number, host: string, err: Error | null, addresses: LookupAddress[]): void {
    if (!this.connecting || this.#h !== h) return;
    if (err) {
      this.emit('lookup', err, undefined, undefined, host);
      process.nextTick(() => this.destroy(err));
      return;
    }
    // Keep valid IPv4/IPv6 addresses once each; the first one's family goes first, then alternate.
    const groups: LookupAddress[][] = [[], []];
    const seen: string[][] = [[], []];
    let order: Record<number, number> | null = null;
    for (const a of addresses) {
      this.emit('lookup', err, a.address, a.family, host);
      if (!this.connecting || this.#h !== h) return;
      if (isIP(a.address) && (a.family === 4 || a.family === 6)) {
        order ??= a.family === 6 ? { 6: 0, 4: 1 } : { 4: 0, 6: 1 };
        const g = order[a.family];
        if (!seen[g].includes(a.address)) { groups[g].push(a); seen[g].push(a.address); }
      }
    }
    if (groups[0].length === 0 && groups[1].length === 0) {
      const first = addresses[0];
      if (!isIP(first.address)) process.nextTick(() => this.destroy(ERR_INVALID_IP_ADDRESS(first.address)));
      else if (first.family !== 4 && first.family !== 6) {
        const e = ERR_INVALID_ADDRESS_FAMILY(first.family, this.#connectOptions.host, this.#connectOptions.port);
        process.nextTick(() => this.destroy(e));
      }
      return;
    }
    const toAttempt: LookupAddress[] = [];
    for (let i = 0; i < Math.max(groups[0].length, groups[1].length); i++) {
      if (i in groups[0]) toAttempt.push(groups[0][i]);
      if (i in groups[1]) toAttempt.push(groups[1][i]);
    }
    if (toAttempt.length > 1) {
      this.autoSelectFamilyAttemptedAddresses = [];
      this.#attemptErrors = [];
    }
    this.#core.onResolved(h, toAttempt.map(({ address, family }) => ({ address, family })));
  }

  // ------------------------------------------------------------------ notifications

  [kNotify](o: Output): void {
    switch (o.op) {
      case Op.EV_DATA: return this.#onData(o.data!);
      case Op.EV_EOF: this.push(null); this.read(0); return;
      case Op.EV_WRITABLE: return this.#feed();
      case Op.EV_WRITE_DONE: return this.#writeDone(o.a);
      case Op.EV_SHUTDOWN_DONE: {
        const cb = this.#finalCb;
        this.#finalCb = null;
        if (cb) cb(o.a && o.a !== ERRNO.ENOTCONN ? errnoException(o.a, 'shutdown') : undefined);
        return;
      }
      case Op.EV_TIMEOUT: this.emit('timeout'); return;
      case Op.EV_CONNECT_ATTEMPT: return this.#onAttempt(o);
      case Op.EV_CONNECT_ATTEMPT_FAILED: return this.#onAttemptFailed(o);
      case Op.EV_CONNECT_ATTEMPT_TIMEOUT: {
        const [address] = o.data!.toString().split('\0');
        const family = this.#ipc ? undefined : o.b;
        this.emit('connectionAttemptTimeout', address, o.a, family);
        this.#attemptErrors.push(exceptionWithHostPort(ERRNO.ETIMEDOUT, 'connect', address, o.a));
        return;
      }
      case Op.EV_ATTEMPTS_FAILED: {
        const errors = this.#attemptErrors;
        this.destroy(errors.length === 0 ? ERR_SOCKET_CONNECTION_TIMEOUT() : aggregateError(errors));
        return;
      }
      case Op.EV_CONNECTED: return this.#onConnected(o);
      case Op.EV_ERROR: return this.#onError(o);
      case Op.EV_CLOSED: return this.#onClosed();
    }
  }

  #onAttempt(o: Output): void {
    const address = o.data ? o.data.toString() : '';
    if (this.#ipc) {
      this.emit('connectionAttempt', address, undefined, undefined);
      return;
    }
    this.autoSelectFamilyAttemptedAddresses?.push(`${address}:${o.a}`);
    this.emit('connectionAttempt', address, o.a, o.b);
  }

  #onAttemptFailed(o: Output): void {
    // `address`, or `address NUL local` when the connect call failed at once (CONNECT_AT_ONCE).
    const [address, atOnce] = o.data ? o.data.toString().split('\0') : [''];
    const { localAddress, localPort } = this.#connectOptions as { localAddress?: string; localPort?: number };
    const bound = localAddress && localPort ? `${localAddress}:${localPort}` : undefined;
    const details = atOnce !== undefined ? atOnce || undefined : bound;
    const ex = this.#ipc
      ? exceptionWithHostPort(o.c, 'connect', address)
      : exceptionWithHostPort(o.c, 'connect', address, o.a, details);
    if (atOnce === undefined && bound) Object.assign(ex, { localAddress, localPort });
    this.#lastAttemptError = ex;
    this.#attemptErrors.push(ex);
    if (this.#ipc) this.emit('connectionAttemptFailed', address, undefined, undefined, ex);
    else this.emit('connectionAttemptFailed', address, o.a, o.b, ex);
  }

  #onConnected(o: Output): void {
    if (this.destroyed) return;
    this.connecting = false;
    const [localAddress, remoteAddress] = o.data ? o.data.toString().split('\0') : ['', ''];
    if (this.#ipc || o.b === 0) {
      this.#ipc = true;
      this.#sockname = {};
      this.#peername = {};
    } else {
      this.#sockname = { address: localAddress, family: familyName(o.b), port: o.a };
      this.#peername = { address: remoteAddress, family: familyName(o.b), port: o.c };
    }
    if (this.#opening) return; // an fd is open from the start: Node emits no 'connect'
    this.emit('connect');
    this.emit('ready');
    if (!this.isPaused()) this.read(0);
  }

  #onError(o: Output): void {
    const syscall = SYSCALLS[o.b] ?? 'read';
    if (syscall === 'connect') {
      const [address, atOnce] = o.data ? o.data.toString().split('\0') : [undefined];
      const ex = this.#lastAttemptError ?? (this.#ipc
        ? exceptionWithHostPort(o.a, 'connect', address)
        : exceptionWithHostPort(o.a, 'connect', address, o.c, atOnce || undefined));
      this.destroy(ex);
    } else if (syscall === 'bind') {
      this.destroy(exceptionWithHostPort(o.a, 'bind', o.data?.toString(), o.c));
    } else {
      this.destroy(errnoException(o.a, syscall));
    }
  }

  #onClosed(): void {
    if (this.#transportClosed === 1) {
      this.#transportClosed = 2;
      const cb = this.#transportCloseCb;
      this.#transportCloseCb = null;
      if (this.#closingH === 0) {
        // `_handle.close()` of a socket not destroyed: it keeps the closed handle until it is.
        this.#stack.unregister(this.#h, this);
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
    this.#stack.unregister(this.#closingH, this);
    this.#closingH = 0;
    const hadError = this.#closeHadError;
    // A close the core reports inside destroy() itself had no transport to wait for; Node
    // emits it from the close phase of the loop, after the error's tick.
    if (this.#inDestroy) setImmediate(() => this.emit('close', hadError));
    else this.emit('close', hadError);
  }

  [kTrapped](err: CoreTrap): void {
    // The core is gone: nothing will report CLOSED. Destroy with the trap and close here.
    const waitingForClose = this.#closingH !== 0;
    this.#h = 0;
    this.#closingH = 0;
    const req = this.#req;
    this.#req = null;
    if (req) process.nextTick(() => req.cb(err));
    this.connecting = false;
    this.#trapped = true;
    if (!this.destroyed) this.destroy(err);
    else if (waitingForClose) process.nextTick(() => this.emit('close', true));
  }

  // ------------------------------------------------------------------ reading

  override _read(n: number): void {
    if (this.connecting || this.#h === 0) {
      this.once('connect', () => this._read(n));
      return;
    }
    if (this.#onreadCb) {
      if (!this.#reading) this.#readStart();
      return;
    }
    this.#core.apiRead(this.#h);
  }

  #readStart(): void {
    this.#reading = true;
    if (this.#leftover) {
      // Bytes held back when the callback paused: hand them over on the next tick, as the
      // kernel would after a read restart (never inside resume() itself), then read on.
      if (!this.#leftoverQueued) {
        this.#leftoverQueued = true;
        process.nextTick(() => this.#flushLeftover());
      }
      return;
    }
    if (this.#h) this.#core.apiRead(this.#h);
  }

  #flushLeftover(): void {
    this.#leftoverQueued = false;
    if (!this.#reading || this.destroyed) return;
    const rest = this.#leftover;
    this.#leftover = null;
    if (rest && !this.#deliverOnread(rest)) {
      this.#reading = false; // paused again: the transport was never restarted
      return;
    }
    if (this.#reading && this.#h) this.#core.apiRead(this.#h);
  }

  #readStop(): void {
    this.#reading = false;
    if (this.#h) this.#core.apiPause(this.#h);
  }

  #onData(buf: Buffer): void {
    if (this.destroyed) return;
    this.#received += buf.length;
    if (this.#onreadCb) {
      if (!this.#reading || this.#leftover) {
        // Paused (or bytes held back before these): keep them, in order, for the resume.
        this.#leftover = this.#leftover ? Buffer.concat([this.#leftover, buf]) : buf;
        return;
      }
      if (!this.#deliverOnread(buf) && this.#reading) this.#readStop();
    } else if (!this.push(buf)) {
      this.#core.apiPause(this.#h);
    }
  }

  /**
   * onread mode: copy into the user's buffer, one callback per bufferful. Stops (keeping the
   * rest for later) when the callback returns false or pauses the socket; false = stopped.
   */
  #deliverOnread(src: Uint8Array): boolean {
    let off = 0;
    while (off < src.length) {
      const dst = this.#onreadBuf!;
      const n = Math.min(dst.length, src.length - off);
      dst.set(src.subarray(off, off + n));
      off += n;
      const go = this.#onreadCb!(n, dst) !== false;
      this.#initOnreadBuffer();
      if (!go || !this.#reading || this.destroyed) {
        if (off < src.length) this.#leftover = src.subarray(off);
        return false;
      }
    }
    return true;
  }

  // In onread mode the stream never buffers: pause and resume start and stop reading at once,
  // as Node does with its handle (and only when that changes something, like handle.reading).
  override pause(): this {
    if (this.#onreadCb && !this.connecting && this.#h && !this.destroyed && this.#reading) this.#readStop();
    return super.pause();
  }

  override resume(): this {
    // The stream's own resume runs its flow on the next tick; held-back bytes come after it.
    super.resume();
    if (this.#onreadCb && !this.connecting && this.#h && !this.destroyed && !this.#reading) this.#readStart();
    return this;
  }

  override read(n?: number): any {
    if (this.#onreadCb && !this.connecting && this.#h && !this.destroyed && !this.#reading) this.#readStart();
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
    if (this.connecting) {
      // Held until 'connect', like Node; bytesWritten counts it meanwhile.
      this.#pendingData = data;
      this.#pendingEncoding = encoding;
      const onClose = () => cb(ERR_SOCKET_CLOSED_BEFORE_CONNECTION());
      this.once('connect', () => {
        this.off('close', onClose);
        this.#writeGeneric(writev, data, encoding, cb);
      });
      this.once('close', onClose);
      return;
    }
    this.#pendingData = null;
    this.#pendingEncoding = '';
    if (!this.#hasConnection()) {
      cb(ERR_SOCKET_CLOSED());
      return;
    }
    if (this.#transportClosed !== 0) {
      cb(errnoException(ERRNO.EBADF, 'write')); // written to a closed handle, as libuv answers
      return;
    }
    const bufs: Uint8Array[] = writev
      ? (data as { chunk: Chunk; encoding: BufferEncoding }[]).map((e) => toBuffer(e.chunk, e.encoding))
      : [toBuffer(data as Chunk, encoding as BufferEncoding)];
    for (const b of bufs) this.#dispatched += b.length;
    this.#req = { bufs, i: 0, off: 0, offered: false, offering: false, again: false, cb };
    this.#feed();
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
    const core = this.#core;
    const size = core.scratchSize;
    const parts: Uint8Array[] = [];
    for (;;) {
      req.again = false;
      parts.length = 0;
      let total = 0;
      let i = req.i;
      let off = req.off;
      while (i < req.bufs.length && total < size) {
        const b = req.bufs[i];
        const take = Math.min(b.length - off, size - total);
        if (take > 0) parts.push(off === 0 && take === b.length ? b : b.subarray(off, off + take));
        total += take;
        off += take;
        if (off === b.length) { i++; off = 0; }
      }
      const last = i === req.bufs.length;
      const n = core.apiWriteParts(this.#h, parts, total, last);
      if (this.#req !== req) return; // completed (or failed) while we offered it
      if (n < 0) {
        this.#req = null;
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
    if (status === 0 || this.destroyed) {
      req.cb(null);
    } else {
      // A write the kernel refused was never dispatched: Node does not count it in bytesWritten.
      for (const b of req.bufs) this.#dispatched -= b.length;
      req.cb(errnoException(status, 'write'));
    }
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
    const status = this.#core.apiEnd(this.#h);
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
    const h = this.#h;
    if (h !== 0 && this.#transportClosed !== 0) {
      // `_handle.close()` closed the transport already: 'close' follows its CLOSED.
      this.#h = 0;
      const hadError = this.#closeHadError = !!exception;
      cb(exception);
      if (this.#transportClosed === 2) process.nextTick(() => this.emit('close', hadError));
      else this.#closingH = h;
    } else if (h !== 0) {
      this.#closeHadError = !!exception;
      this.#bytesRead = this.#received + this.#core.readQueueSize(h);
      this.#h = 0;
      this.#closingH = h;
      const reset = this.#resetAndClosing;
      this.#resetAndClosing = false;
      this.#inDestroy = true;
      try {
        this.#core.apiDestroy(h, reset);
      } finally {
        this.#inDestroy = false;
      }
      cb(exception);
    } else if (this.#trapped) {
      cb(exception);
      process.nextTick(() => this.emit('close', true));
    } else {
      cb(exception);
      process.nextTick(() => this.emit('close'));
    }
  }

  resetAndDestroy(): this {
    if (this.#h !== 0) {
      if (this.#ipc) throw ERR_INVALID_HANDLE_TYPE();
      if (this.connecting) this.once('connect', () => this.#reset());
      else this.#reset();
    } else {
      this.destroy(ERR_SOCKET_CLOSED());
    }
    return this;
  }

  #reset(): void {
    this.#resetAndClosing = true;
    this.destroy();
  }

  // ------------------------------------------------------------------ options and state

  setTimeout(msecs: number, callback?: () => void): this {
    if (this.destroyed) return this;
    this.timeout = msecs;
    msecs = timerDuration(msecs, 'msecs');
    if (msecs === 0) {
      if (this.#h !== 0) this.#core.apiSetTimeout(this.#h, 0);
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.removeListener('timeout', callback);
      }
    } else {
      this.#core.apiSetTimeout(this.#handle(), Math.max(1, msecs));
      if (callback !== undefined) {
        validateFunction(callback, 'callback');
        this.once('timeout', callback);
      }
    }
    return this;
  }

  setNoDelay(enable?: boolean): this {
    enable = Boolean(enable === undefined ? true : enable);
    if (this.#h === 0) {
      this.#noDelay = enable;
      return this;
    }
    if (enable !== this.#noDelay) {
      this.#noDelay = enable;
      if (!this.#ipc) this.#core.apiSetOption(this.#h, Opt.NoDelay, enable ? 1 : 0, 0);
    }
    return this;
  }

  setKeepAlive(enable?: boolean, initialDelayMsecs?: number): this {
    enable = Boolean(enable);
    const initialDelay = ~~((initialDelayMsecs as number) / 1000);
    if (this.#h === 0) {
      this.#keepAlive = enable;
      this.#keepAliveDelay = initialDelay;
      return this;
    }
    if (this.#ipc) return this;
    if (enable !== this.#keepAlive || (enable && this.#keepAliveDelay !== initialDelay)) {
      this.#keepAlive = enable;
      this.#keepAliveDelay = initialDelay;
      this.#core.apiSetOption(this.#h, Opt.KeepAlive, enable ? 1 : 0, initialDelay * 1000);
    }
    return this;
  }

  /** Options given before the connection exist are applied by the core once it is up. */
  #applyOptions(h: number): void {
    if (this.#noDelay) this.#core.apiSetOption(h, Opt.NoDelay, 1, 0);
    if (this.#keepAlive) this.#core.apiSetOption(h, Opt.KeepAlive, 1, this.#keepAliveDelay * 1000);
  }

  address(): AddressInfo | {} {
    return this.#getsockname();
  }

  #getsockname(): AddressInfo {
    if (this.#h === 0) return {};
    return this.#sockname ?? {};
  }

  /** Like Node: known while connected; after close, only if it was read while connected. */
  #getpeername(): AddressInfo {
    if (this.#h === 0 || this.connecting) return this.#peerRead ? this.#peername ?? {} : {};
    this.#peerRead = true;
    return this.#peername ?? {};
  }

  get localAddress(): string | undefined { return this.#getsockname().address; }
  get localPort(): number | undefined { return this.#getsockname().port; }
  get localFamily(): string | undefined { return this.#getsockname().family; }
  get remoteAddress(): string | undefined { return this.#getpeername().address; }
  get remoteFamily(): string | undefined { return this.#getpeername().family; }
  get remotePort(): number | undefined { return this.#getpeername().port; }

  get pending(): boolean {
    return this.#h === 0 || this.connecting;
  }

  get readyState(): string {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  get bufferSize(): number | undefined {
    return this.#h !== 0 ? this.writableLength : undefined;
  }

  get bytesRead(): number {
    return this.#h !== 0 && this.#transportClosed === 0 ? this.#received + this.#core.readQueueSize(this.#h) : this.#bytesRead;
  }

  get _bytesDispatched(): number {
    return this.#dispatched;
  }

  get bytesWritten(): number | undefined {
    let bytes = this.#dispatched;
    const buffered = (this as unknown as { writableBuffer?: unknown[] }).writableBuffer;
    if (!buffered) return undefined;
    for (const el of buffered as { chunk: Chunk; encoding: BufferEncoding }[]) bytes += byteLength(el.chunk, el.encoding);
    const data = this.#pendingData;
    if (Array.isArray(data)) {
      for (const c of data) bytes += c instanceof Uint8Array ? c.length : byteLength(c.chunk, c.encoding);
    } else if (data) {
      bytes += byteLength(data as Chunk, this.#pendingEncoding as BufferEncoding);
    }
    return bytes;
  }

  get _connecting(): boolean {
    return this.connecting;
  }

  // Node's underscore members that code outside net.js calls or reads (libraries, Node's tests).
  _closeAfterHandlingError = false;
  get _pendingData(): unknown { return this.#pendingData; }
  get _pendingEncoding(): string { return this.#pendingEncoding; }
  _getsockname(): AddressInfo { return this.#getsockname(); }
  _getpeername(): AddressInfo { return this.#getpeername(); }
  /** What Node's timer calls when the idle timeout fires. */
  _onTimeout(): void { this.emit('timeout'); }
  _reset(): this { this.#reset(); return this; }
  _writeGeneric(writev: boolean, data: unknown, encoding: string, cb: (err?: Error | null) => void): void {
    this.#writeGeneric(writev, data, encoding, cb);
  }

  ref(): this {
    if (this.#h === 0) {
      this.once('connect', this.ref);
      return this;
    }
    this.#core.apiRef(this.#h, true);
    return this;
  }

  unref(): this {
    if (this.#h === 0) {
      this.once('connect', this.unref);
      return this;
    }
    this.#core.apiRef(this.#h, false);
    return this;
  }

  /**
   * The core socket stands for a connection — being set up, accepted, or opened from an fd — so
   * `_handle` shows one (a socket made only for setTimeout() has a core socket but no connection).
   */
  #hasConnection(): boolean {
    return this.#h !== 0 && !this.#detached && (this.connecting || this.#sockname !== null);
  }

  /**
   * Node's `_handle`: while there is a connection, wasinet's stand-in for the libuv handle
   * (handle.ts) — never the transport's own, which Node's http, tls and http2 would read and
   * write past the core.
   */
  get _handle(): PipeHandle | null {
    if (!this.#hasConnection()) return null;
    return this.#handleObj ??= this.#makeHandle();
  }

  #makeHandle(): PipeHandle {
    const owner: HandleOwner = {
      readStart: () => this.#handleReadStart(),
      readStop: () => this.#handleReadStop(),
      setOption: (opt, value, value2) => {
        if (this.#h !== 0 && this.#transportClosed === 0) {
          this.#stack.backend.exec({ op: Op.CMD_SET_OPTION, h: this.#h, a: opt, b: value, c: value2, data: null });
        }
      },
      closeTransport: (cb) => this.#closeTransport(cb),
      fd: () => (this.#h !== 0 && this.#transportClosed === 0 ? this.#stack.backend.fdOf(this.#h) : -1),
      bytesRead: () => this.bytesRead,
      bytesWritten: () => this.#dispatched,
      writeQueueSize: () => (this.#h !== 0 ? Math.max(0, this.#core.writeQueueSize(this.#h)) : 0),
      reading: () => (this.#onreadCb ? this.#reading : this.#h !== 0 && (this.#core.socketFlags(this.#h) & 1) !== 0),
      sockname: () => ({ ...this.#getsockname() }),
      peername: () => ({ ...(this.#peername ?? {}) }),
      ref: (on) => { if (this.#h !== 0) this.#core.apiRef(this.#h, on); },
      hasRef: () => this.#h !== 0 && (this.#core.socketFlags(this.#h) & 2) !== 0,
    };
    return this.#ipc ? new PipeHandle(owner) : new TcpHandle(owner);
  }

  /** SET_OPTION from the core: through `_handle`'s option calls when it was handed out. */
  [kSetOption](o: Output): void {
    if (this.#handleObj !== null) applyOption(this.#handleObj, o);
    else this.#stack.backend.exec(o);
  }

  /** `_handle.readStart()`: what net.js does when the Readable wants data. */
  #handleReadStart(): number {
    if (this.#h === 0 || this.connecting) return 0;
    if (this.#onreadCb) {
      if (!this.#reading) this.#readStart();
    } else {
      this.#core.apiRead(this.#h);
    }
    return 0;
  }

  /** `_handle.readStop()`: what net.js does when a push is refused. */
  #handleReadStop(): number {
    if (this.#h === 0) return 0;
    if (this.#onreadCb) {
      if (this.#reading) this.#readStop();
    } else {
      this.#core.apiPause(this.#h);
    }
    return 0;
  }

  /**
   * `_handle.close()`: the transport closes under the socket, which is not told (as with a
   * libuv handle closed directly): it learns at its next write (EBADF) or when destroyed.
   */
  #closeTransport(cb?: () => void): void {
    if (this.#h === 0 || this.#transportClosed !== 0) return;
    this.#transportClosed = 1;
    this.#transportCloseCb = cb ?? null;
    this.#bytesRead = this.#received + this.#core.readQueueSize(this.#h);
    this.#core.apiDestroy(this.#h, false);
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
      if (s.#h !== 0 && s.timeout) s.#core.apiRefreshTimeout(s.#h);
    }
  }

  /** `socket._handle = null` detaches the socket from its connection, as in Node: writes then fail with ERR_SOCKET_CLOSED. */
  set _handle(value: object | null) {
    if (value === null) this.#detached = true;
  }

  /** The core handle (0 when none); for tests and for the Server. */
  get _wasinetHandle(): number {
    return this.#h;
  }

  static {
    guardAccessors(Socket.prototype, (o) => #h in o, { pending: true, readyState: 'closed' });
  }
}

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

function socketToDnsFamily(family: unknown): unknown {
  switch (family) {
    case 'IPv4': return 4;
    case 'IPv6': return 6;
  }
  return family;
}
