// net.Server: listens through a listener of the Wasm core.
//
// The core keeps what decides behaviour: the listener's state (whether it is bound is a question
// to the core), the count of open connections, the maxConnections refusal, and "closed and
// drained" (when Node emits 'close'). This class validates arguments as Node does, asks the core
// to listen, and turns the listener's notifications into Node's events on Node's ticks.
import { EventEmitter } from 'node:events';
import { adoptable } from './adopt.js';
import type { Output, CoreTrap } from '../core/core.js';
import { Op, ListenFlag, ListenerState, SYSCALLS } from '../core/abi.js';
import { Stack, getDefaultStack, kNotify, kTrapped, type Endpoint } from './stack.js';
import { Socket, kStack, kAccepted, type AcceptedInfo } from './socket.js';
import { splitNames } from '../core/names.js';
import { kSendHandle, kSentDestroyed, type SendCarrier } from './child-send.js';
import { guardAccessors } from './accessors.js';
import { normalizeArgs, isPipeName, backlogArg } from './args.js';
import { isClusterWorker } from '../backend/backend.js';
import { listenChannel, serverSocketChannel } from './channels.js';
import { validateNumber, validatePort, validateAbortSignal } from './validate.js';
import {
  ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_SERVER_ALREADY_LISTEN, ERR_SERVER_NOT_RUNNING,
  uvExceptionWithHostPort, exceptionWithHostPort, dnsException, errnoException,
} from './errors.js';

/** maxConnections as Node compares it (`max && count >= max`): 0 for falsy, else its number. */
/** A backlog as the transport reads it (Int32; a BigInt fails as it does in Node). */
function toInt32(x: unknown): number {
  return (+(x as number)) | 0;
}

function limitOf(n: unknown): number {
  if (!n) return 0;
  const v = Number(n);
  return Number.isNaN(v) ? 0 : v;
}

/** A TCP handle object (what Node's listen() checks with `instanceof TCP`). */
function isTcpHandle(o: unknown): boolean {
  return typeof o === 'object' && o !== null && (o as { constructor?: { name?: string } }).constructor?.name === 'TCP';
}

function familyName(f: number): string {
  return f === 6 ? 'IPv6' : 'IPv4';
}

export interface ServerOptions {
  allowHalfOpen?: boolean;
  pauseOnConnect?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  highWaterMark?: number;
}

/** Node's list of the sockets a server sent to one other process (internal/socket_list.js). */
interface WorkerList {
  getConnections(cb: (err: Error | null, count: number) => void): void;
  close(cb: () => void): void;
  once(event: 'exit', fn: (list: WorkerList) => void): unknown;
}

export class Server extends adoptable(EventEmitter) implements Endpoint {
  static [kStack]: Stack | null = null;

  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  keepAliveInitialDelay: number;
  highWaterMark: number;
  _pipeName?: string;
  /** In node:net's types (the removed DEP0020 property), absent at run time as in Node 20. */
  declare readonly connections: number;
  /** Node's cluster key of the last listen: `addressType:address:port` (-1 for pipes and handles). */
  _connectionKey?: string;
  #maxConnections: number | undefined;

  readonly #stack: Stack;
  #lh = 0;               // the core's listener while listening (Node's `_handle`)
  #starting = false;     // inside the listen call (#start)
  // The listener this server closed while it had open connections, until it drains (its
  // SERVER_DRAINED brings 'close') or the next listen takes it over (the core counts its
  // connections against the new one). One at most: every listen between two closes takes it.
  #draining = 0;
  #address: { address: string; family: string; port: number } | null = null;
  #requested: { address: string | null; port: number; host?: string } = { address: null, port: 0 };
  #ipc = false;               // the current listen is on a Unix socket or pipe path
  #awaitingHandle = false;    // no handle yet: a host name is being resolved, or a cluster worker waits for the primary's
  #shared = false;            // the current listen is a cluster worker's, through the primary (its errors are cluster's)
  #unref = false;

  constructor(options?: ServerOptions | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    super();
    let opts: ServerOptions;
    if (typeof options === 'function') {
      connectionListener = options;
      opts = {};
      this.on('connection', connectionListener);
    } else if (options == null || typeof options === 'object') {
      opts = { ...options };
      if (typeof connectionListener === 'function') this.on('connection', connectionListener);
    } else {
      throw ERR_INVALID_ARG_TYPE('options', 'Object', options);
    }
    if (typeof opts.keepAliveInitialDelay !== 'undefined') {
      validateNumber(opts.keepAliveInitialDelay, 'options.keepAliveInitialDelay');
      if (opts.keepAliveInitialDelay < 0) opts.keepAliveInitialDelay = 0;
    }
    if (typeof opts.highWaterMark !== 'undefined') {
      validateNumber(opts.highWaterMark, 'options.highWaterMark');
      if (opts.highWaterMark < 0) opts.highWaterMark = undefined;
    }
    this.#stack = ((opts as Record<symbol, unknown>)[kStack] as Stack | undefined) ?? (new.target as typeof Server)[kStack] ?? getDefaultStack();
    this.allowHalfOpen = opts.allowHalfOpen || false;
    this.pauseOnConnect = !!opts.pauseOnConnect;
    this.noDelay = Boolean(opts.noDelay);
    this.keepAlive = Boolean(opts.keepAlive);
    this.keepAliveInitialDelay = ~~((opts.keepAliveInitialDelay as number) / 1000);
    this.highWaterMark = opts.highWaterMark ?? 16384;
  }

  /** undefined until set, as in Node (whose types say number). */
  get maxConnections(): number {
    return this.#maxConnections as number;
  }

  set maxConnections(n: number) {
    this.#maxConnections = n;
    if (this.#lh) this.#stack.core.apiSetMaxConnections(this.#lh, limitOf(n));
  }

  /** Connections accepted and not yet destroyed (Node's server._connections). */
  get _connections(): number {
    let n = 0;
    const core = this.#stack.core;
    if (this.#lh) n += Math.max(0, core.connections(this.#lh));
    if (this.#draining) n += Math.max(0, core.connections(this.#draining));
    return n;
  }
  /** Node's send() of an accepted socket to another process lowers it; here the core counts (a sent socket is closed for it). */
  set _connections(_n: number) {}

  /**
   * Sockets sent to another process and destroyed here afterwards: Node's server counts each of
   * them out twice (at the send, and at the destroy), until close() has the other processes close
   * theirs. getConnections() says so.
   */
  #sentDestroyed = 0;

  [kSentDestroyed](): void {
    this.#sentDestroyed++;
  }

  /**
   * Node's: the lists of sockets of this server sent to other processes (child_process's send,
   * child-send.ts), each counting them there: getConnections() adds their counts and close()
   * waits for them to close.
   */
  _usingWorkers = false;
  _workers: WorkerList[] = [];
  /** close() waits for this many processes to close the sockets they were sent. */
  #workersClosing = 0;
  /** The core's 'close' came while they had not. */
  #closeHeld = false;

  _setupWorker(socketList: WorkerList): void {
    this._usingWorkers = true;
    this._workers.push(socketList);
    socketList.once('exit', (list: WorkerList) => {
      const i = this._workers.indexOf(list);
      if (i >= 0) this._workers.splice(i, 1);
    });
  }

  /** 'close', once the core's listener drained and the processes sent its sockets closed them. */
  #emitClose(): void {
    if (this.#workersClosing > 0) this.#closeHeld = true;
    else process.nextTick(() => this.emit('close'));
  }

  /** Node's `_handle`: the transport's own handle while listening (listen(server) takes it over). */
  get _handle(): object | null {
    // None yet while a host name is looked up, or a cluster's primary listens, and none after a
    // bind that failed at once: as Node's.
    if (!this.#lh || this.#awaitingHandle || this.#bindFailed()) return null;
    return this.#stack.backend.handleObject(this.#lh) ?? { fd: this.#stack.backend.fdOf(this.#lh) };
  }

  /** child_process's send() of this server (child-send.ts): its listening handle; it goes on listening here too. */
  [kSendHandle](): SendCarrier | null {
    if (this._handle === null) return { handle: null }; // node:net's send sends the message alone
    if (this.#stack.backend.sendConn === undefined) return null; // no OS handle to send
    const handle = this.#stack.backend.handleObject(this.#lh);
    return handle === null ? null : { handle };
  }

  get listening(): boolean {
    return this.#lh !== 0 && (this.#ipc ? !this.#awaitingHandle && !this.#bindFailed() : this.#bound());
  }

  /** The current listen failed at once, its error still to come (the backend knows: listenFailed). */
  #bindFailed(): boolean {
    return this.#stack.backend.listenFailed?.(this.#lh) === true;
  }

  /** The current listener is bound (LISTENING arrived): the core's listener state answers. */
  #bound(): boolean {
    return this.#stack.core.listenerState(this.#lh) === ListenerState.Listening;
  }

  listen(...args: unknown[]): this {
    const [opts, cb] = normalizeArgs(args);
    let options = opts;
    if (listenChannel.asyncStart.hasSubscribers) listenChannel.asyncStart.publish({ server: this, options });
    // Like Node's `_handle`: a listen whose host name is still being looked up has none yet,
    // and another listen() replaces it.
    if (this.#lh && !this.#awaitingHandle) throw ERR_SERVER_ALREADY_LISTEN();
    if (this.#lh) this.#abandon();
    if (cb !== null) this.once('listening', cb);
    const backlogFromArgs = backlogArg(args.length > 1 && args[1]) || backlogArg(args.length > 2 && args[2]);
    options = options._handle || options.handle || options;
    if (isTcpHandle(options)) {
      // (handle[, backlog][, cb]) with a server's or a socket's handle: listen on that handle.
      const token = this.#stack.backend.adoptHandle(options);
      this.#requested = { address: null, port: -1 };
      this._connectionKey = '-1:null:-1';
      this.#start(token, backlogFromArgs || 0, ListenFlag.Handle, '');
      return this;
    }
    this.#abortSignal(options);
    if (typeof options.fd === 'number' && options.fd >= 0) {
      // (handle[, backlog][, cb]) with an object carrying a listening socket's file descriptor.
      this.#requested = { address: null, port: 0 };
      this._connectionKey = '-1:null:-1';
      // A descriptor beyond int32, or not an integer, is no descriptor: the transport answers
      // EINVAL (-1), as Node does.
      this.#start(options.fd > 0x7fffffff || !Number.isInteger(options.fd) ? -1 : options.fd, backlogFromArgs || 0, ListenFlag.Fd, '');
      return this;
    }

    if (args.length === 0 || typeof args[0] === 'function' ||
      (typeof options.port === 'undefined' && 'port' in options) || options.port === null) {
      options.port = 0;
    }
    if (typeof options.port === 'number' || typeof options.port === 'string') {
      validatePort(options.port, 'options.port');
      const backlog = options.backlog || backlogFromArgs;
      let flags = options.exclusive ? ListenFlag.Exclusive : 0;
      if (options.ipv6Only === true) flags |= ListenFlag.Ipv6Only;
      const port = (options.port as number) | 0;
      // Node looks the host up with dns.lookup, which takes only a string.
      if (options.host && typeof options.host !== 'string') throw ERR_INVALID_ARG_TYPE('hostname', 'string', options.host);
      this.#requested = options.host
        ? { address: null, port, host: String(options.host) }
        : { address: '::', port };
      if (!options.host) this._connectionKey = `6::::${port}`;
      this.#start(port, toInt32(backlog), flags, options.host ? String(options.host) : '', !!options.host);
      return this;
    }
    if (options.path && isPipeName(options.path)) {
      if (options.path[0] === '\0' && (options.readableAll || options.writableAll)) {
        throw ERR_INVALID_ARG_VALUE('options', options,
          'can not set readableAll or writableAllt to true when path is abstract unix socket');
      }
      const path: string = options.path;
      this._pipeName = path;
      const backlog = options.backlog || backlogFromArgs;
      let flags = ListenFlag.Ipc;
      if (options.exclusive) flags |= ListenFlag.Exclusive;
      if (options.readableAll === true) flags |= ListenFlag.ReadableAll;
      if (options.writableAll === true) flags |= ListenFlag.WritableAll;
      this.#requested = { address: path, port: -1 };
      this._connectionKey = `-1:${path}:-1`;
      this.#start(0, toInt32(backlog), flags, path);
      return this;
    }
    if (!('port' in options || 'path' in options)) {
      throw ERR_INVALID_ARG_VALUE('options', options, 'must have the property "port" or "path"');
    }
    throw ERR_INVALID_ARG_VALUE('options', options);
  }

  /** Drops a listen still looking up its host (superseded by a new listen()). */
  #abandon(): void {
    const lh = this.#lh;
    this.#lh = 0;
    this.#awaitingHandle = false;
    this.#stack.unregister(lh, this);
    this.#stack.core.apiServerClose(lh);
  }

  #start(port: number, backlog: number, flags: number, address: string, lookup = false): void {
    const core = this.#stack.core;
    // Until LISTENING or LISTEN_ERROR (which may come during apiListen). A cluster worker's
    // shared listen waits for the primary, and Node's server has no handle meanwhile either.
    const shared = (flags & (ListenFlag.Exclusive | ListenFlag.Handle | ListenFlag.Fd)) === 0 && isClusterWorker();
    this.#awaitingHandle = lookup || shared;
    this.#shared = shared;
    // `_pipeName` outlives a pipe listen (address() answers it when nothing listens, as Node's
    // does), so whether the current listen is a pipe is kept apart.
    this.#ipc = (flags & ListenFlag.Ipc) !== 0;
    const prev = this.#draining;
    this.#draining = 0;
    this.#address = null;
    const max = limitOf(this.#maxConnections);
    let made = false;
    this.#starting = true;
    try {
      core.apiListen(port, backlog, flags, address, prev, max, (lh) => {
        made = true;
        this.#lh = lh;
        this.#stack.register(lh, this);
        if (this.#unref) core.apiRef(lh, false);
      });
    } finally {
      this.#starting = false;
    }
    // The core trapped making the listener (coreMemory): it had no handle to hear of it.
    if (!made && core.dead) this[kTrapped](core.dead);
  }

  #abortSignal(options: { signal?: AbortSignal }): void {
    if (options?.signal === undefined) return;
    validateAbortSignal(options.signal, 'options.signal');
    const { signal } = options;
    const onAborted = () => this.close();
    if (signal.aborted) {
      process.nextTick(onAborted);
      return;
    }
    // Node's addAbortListener: a listener before it that stops the event's propagation does not
    // keep it from the abort (where the runtime has it; a plain listener otherwise).
    const add = (EventEmitter as unknown as { addAbortListener?: (s: AbortSignal, fn: () => void) => Record<symbol, () => void> }).addAbortListener;
    if (typeof add === 'function' && typeof Symbol.dispose === 'symbol') {
      const disposable = add(signal, onAborted);
      this.once('close', () => disposable[Symbol.dispose]());
    } else {
      signal.addEventListener('abort', onAborted, { once: true });
      this.once('close', () => signal.removeEventListener('abort', onAborted));
    }
  }

  [kNotify](o: Output): void {
    switch (o.op) {
      case Op.EV_LISTENING: {
        const address = o.data ? o.data.toString() : '';
        this.#awaitingHandle = false;
        // (Family 0: a Unix socket taken by descriptor or handle, whose address() is null in Node.)
        this.#address = this.#ipc || o.b === 0 ? null : { address, family: familyName(o.b), port: o.a };
        const req = this.#requested;
        if (req.host !== undefined || (req.address === '::' && o.b === 4)) this._connectionKey = `${o.b}:${address}:${req.port}`;
        const lh = o.h;
        if (listenChannel.asyncEnd.hasSubscribers) listenChannel.asyncEnd.publish({ server: this });
        process.nextTick(() => { if (this.#lh === lh) this.emit('listening'); });
        return;
      }
      case Op.EV_LISTEN_ERROR: {
        this.#stack.unregister(o.h, this);
        if (this.#lh === o.h) { this.#lh = 0; this.#awaitingHandle = false; }
        const syscall = SYSCALLS[o.b] ?? 'listen';
        const req = this.#requested;
        const address = (o.data?.length ? o.data.toString() : null) ?? req.address ?? req.host ?? null;
        const err = syscall === 'getaddrinfo'
          ? dnsException(o.a, 'getaddrinfo', req.host)
          : this.#shared
            // cluster's worker builds the primary's failure without the error's description
            // (port -1 for a path).
            ? exceptionWithHostPort(o.a, syscall, address ?? undefined, this.#ipc ? -1 : o.c > 0 ? o.c : req.port)
            : uvExceptionWithHostPort(o.a, syscall, address, o.c > 0 ? o.c : req.port);
        if (syscall !== 'getaddrinfo' && listenChannel.error.hasSubscribers) {
          listenChannel.error.publish({ server: this, error: err });
        }
        // From a tick, as Node's: the listen call's own (the core refused it there), or the one
        // the transport's failure came in already (a failed bind, a lookup's answer).
        if (this.#starting) process.nextTick(() => this.emit('error', err));
        else this.emit('error', err);
        return;
      }
      case Op.EV_CONNECTION: return this.#onConnection(o);
      case Op.EV_DROP: {
        const [localAddress, remoteAddress] = splitNames(o.data);
        if (o.b === 0) { this.emit('drop'); return; }
        const ports = o.c;
        // Node 20 builds this argument with a null prototype.
        const data = Object.assign(Object.create(null) as object, {
          localAddress, localPort: ports % 65536, localFamily: familyName(o.b),
          remoteAddress, remotePort: Math.floor(ports / 65536), remoteFamily: familyName(o.b),
        });
        this.emit('drop', data);
        return;
      }
      case Op.EV_SERVER_DRAINED: {
        this.#stack.unregister(o.h, this);
        if (this.#draining === o.h) this.#draining = 0;
        this.#emitClose();
        return;
      }
      case Op.EV_ERROR:
        this.emit('error', errnoException(o.a, SYSCALLS[o.b] ?? 'accept'));
        return;
    }
  }

  #onConnection(o: Output): void {
    const [localAddress, remoteAddress] = splitNames(o.data);
    const ports = o.c;
    const accepted: AcceptedInfo = {
      h: o.a, family: o.b, localAddress, localPort: ports % 65536,
      remoteAddress, remotePort: Math.floor(ports / 65536),
    };
    const SocketClass = (this.#stack as unknown as { Socket?: typeof Socket }).Socket ?? Socket;
    const socket = new SocketClass({
      [kStack]: this.#stack,
      [kAccepted]: accepted,
      allowHalfOpen: this.allowHalfOpen,
      pauseOnCreate: this.pauseOnConnect,
      readable: true,
      writable: true,
      readableHighWaterMark: this.highWaterMark,
      writableHighWaterMark: this.highWaterMark,
    } as never);
    if (this.noDelay && o.b !== 0) socket.setNoDelay(true);
    if (this.keepAlive && o.b !== 0) socket.setKeepAlive(true, this.keepAliveInitialDelay * 1000);
    socket.server = this;
    socket._server = this;
    this.emit('connection', socket);
    if (serverSocketChannel.hasSubscribers) serverSocketChannel.publish({ socket });
  }

  /** With captureRejections, a 'connection' listener's rejection destroys that socket, as in Node. */
  override [EventEmitter.captureRejectionSymbol](err: Error, event: string, socket?: Socket): void {
    if (event === 'connection' && socket) socket.destroy(err);
    else this.emit('error', err);
  }

  [kTrapped](err: CoreTrap): void {
    this.#lh = 0;
    this.#draining = 0;
    process.nextTick(() => this.emit('error', err));
  }

  address(): { address: string; family: string; port: number } | string | null {
    if (this.#lh && this.#address && this.#bound()) return { ...this.#address };
    if (this._pipeName !== undefined) return this._pipeName;
    return null;
  }

  close(cb?: (err?: Error) => void): this {
    if (this.#awaitingHandle) this.#abandon(); // no handle yet (Node's lookup is dropped): not running
    // A listen that failed at once (its error still to come) left Node's server with no handle:
    // not running either, and the error still comes, before 'close'.
    const failed = this.#lh !== 0 && this.#bindFailed();
    if (typeof cb === 'function') {
      if (!this.#lh || failed) this.once('close', () => cb(ERR_SERVER_NOT_RUNNING()));
      else this.once('close', cb);
    }
    const lh = failed ? 0 : this.#lh;
    if (this._usingWorkers && this._workers.length > 0 && this.#workersClosing === 0) {
      // As Node's: each process that was sent sockets of this server is asked to tell once it
      // closed them all.
      this.#workersClosing = this._workers.length;
      const closed = (): void => {
        if (--this.#workersClosing !== 0) return;
        this.#sentDestroyed = 0;
        if (!this.#closeHeld) return;
        this.#closeHeld = false;
        this.#emitClose();
      };
      for (const worker of this._workers) worker.close(closed);
    }
    if (lh) {
      this.#lh = 0;
      this.#draining = lh;
      this.#stack.core.apiServerClose(lh);
    } else if (this.#draining === 0) {
      this.#emitClose();
    }
    return this;
  }

  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this._connections - this.#sentDestroyed;
    if (!this._usingWorkers) {
      process.nextTick(cb, null, n);
      return this;
    }
    // And the sockets it sent to other processes, as each counts them there (Node's way).
    let left = this._workers.length;
    let total = n;
    const count = (err: Error | null, more: number): void => {
      if (left < 0) return;
      if (err) {
        left = -1;
        process.nextTick(cb, err);
        return;
      }
      total += more;
      if (--left === 0) process.nextTick(cb, null, total);
    };
    if (left === 0) process.nextTick(cb, null, n);
    for (const worker of this._workers) worker.getConnections(count);
    return this;
  }

  ref(): this {
    this.#unref = false;
    if (this.#lh) this.#stack.core.apiRef(this.#lh, true);
    return this;
  }

  unref(): this {
    this.#unref = true;
    if (this.#lh) this.#stack.core.apiRef(this.#lh, false);
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#lh) return;
    await new Promise<void>((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())));
  }

  static {
    guardAccessors(Server.prototype, (o) => #lh in o, { listening: false });
  }
}
