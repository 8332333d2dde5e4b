// tls.connect on a stack: a client TLS socket whose session runs below the core (a node
// backend's node-tls.ts), so that the core — and a recording — sees the plaintext the
// application reads and writes, and an application replay gives it back offline. The ciphertext
// of a TLS session cannot be replayed (its handshake draws OpenSSL's randomness); its plaintext,
// and what the session was (certificate, protocol, cipher, ALPN, whether it was authorized; a
// `tls` record of the trace, tls-state.ts), can.
//
// Its TLSSocket is a wasinet Socket with TLSSocket's client surface: 'secureConnect' (tls.connect's
// callback), `encrypted`, `authorized`, `authorizationError`, `alpnProtocol`, `servername`,
// getPeerCertificate(), getProtocol(), getCipher(), getSession() …, answered from the session's
// state. Its 'connect' comes with 'secureConnect' (on node:net one round trip before); a failed
// handshake emits 'connect' and then the session's own error (a certificate refused:
// DEPTH_ZERO_SELF_SIGNED_CERT, a hostname mismatch: ERR_TLS_CERT_ALTNAME_INVALID …), as on
// node:net. Given a socket of the same stack (`socket`: STARTTLS, or a socket still
// connecting), the session takes that socket's connection over (apiOpen's kind 2): the socket
// gets nothing more, and closes with the session, as on node:tls. Its session tickets are
// 'session' events (#tickets: https.Agent resumes sessions with them), and a live session's
// 'keylog' lines are passed on (node-tls.ts; a replay has none). Not carried: renegotiation,
// and a socket that is not this stack's (Node's TLS over it, whose ciphertext that socket
// carries).
//
// The server side (acceptTls, for stack.tlsServe and the register hook's tls.Server routing):
// an accepted connection's session takes it over the same way; the socket is given to the
// server's 'secureConnection' once secure, or with its error to 'tlsClientError'.
import nodeTls from 'node:tls';
import { Duplex } from 'node:stream';
import { Socket, kCarry, kHandleOf, kStackOf, kTakeOver } from './socket.js';
import { kStack } from './socket.js';
import { getDefaultStack, type Stack } from './stack.js';
import { normalizeArgs } from './args.js';
import { validateNumber, validateString } from './validate.js';
import { ERR_INVALID_HANDLE_TYPE } from './errors.js';
import { decode, kLive, kSocket, type SecureState, type TlsState } from '../backend/tls-state.js';
import type { Backend } from '../backend/backend.js';

type Options = Record<string, any>;

const kUpgrade = Symbol('wasinet.tlsUpgrade');

/** How many 'data' and 'end' events of a client session ask for its session tickets, at most (#tickets). */
const TICKET_ASKS = 8;

/** Marks wasinet's TLS sockets, whichever stack's Socket class they extend. */
const kIsTls = Symbol('wasinet.isTls');

/**
 * wasinet's TLSSocket on `Base`, a stack's Socket class (so that it passes `instanceof
 * net.Socket` with that stack's net, as node:tls's TLSSocket does with node:net's).
 */
function tlsSocketClass(Base: typeof Socket) {
  return class TLSSocket extends Base {
    encrypted = true;
    authorized = false;
    authorizationError: string | null = null;
    alpnProtocol: string | false | null = null;
    servername: unknown = null;
    secureConnecting = true;
    readonly #backend: Backend;
    readonly #tlsOptions: Options;
    #state: SecureState | null = null;
    /** The session's own TLSSocket, where the state was not read from a trace. */
    #live: nodeTls.TLSSocket | null = null;
    /** The socket whose connection this session took over (tls.connect({ socket })), or null. */
    readonly #parent: Socket | null;
    /** While a session over `#parent` is not secure yet: the writes (and end) made meanwhile, in order. */
    #held: (() => void)[] | null = null;
    /** The state was asked for (at 'connect'). */
    #asked = false;
    /** What it said then, when the handshake had failed (its error follows: not asked for again). */
    #failure: TlsState | null = null;
    /** How often the session's tickets may still be asked for (#tickets). */
    #ticketAsks = TICKET_ASKS;
    /**
     * Which side of a session this is: a client's (tls.connect), a tls.Server's connection
     * (acceptTls: the server gets 'secureConnection' or 'tlsClientError'), or a server side made
     * with `new tls.TLSSocket(socket, { isServer: true })` (serverTls: the socket emits 'secure').
     */
    readonly #side: 'client' | 'accepted' | 'bare';
    /** The tls.Server of an accepted connection's session. */
    readonly #server: NodeJS.EventEmitter | null;

    constructor(socketOptions: Options, tlsOptions: Options, stack: Stack, parent: Socket | null = null) {
      super(socketOptions);
      this.#backend = stack.backend;
      // The backend passes a live session's 'keylog' lines on to this socket (node-tls.ts).
      this.#tlsOptions = { ...tlsOptions, [kSocket]: this };
      this.#parent = parent;
      if (parent !== null) this.#held = [];
      this.#side = typeof tlsOptions.accept === 'function' ? 'accepted' : tlsOptions.bare === true ? 'bare' : 'client';
      this.#server = this.#side === 'accepted' ? tlsOptions.server as NodeJS.EventEmitter : null;
      // As node:tls's server-side TLSSocket: `server` is the server option (the tls.Server).
      if (this.#side !== 'client' && tlsOptions.server !== undefined) this.server = tlsOptions.server;
    }

    /**
     * The session takes `#parent`'s connection over once it is connected (at once if it is). Until
     * then, its error or close ends this socket too, as node:tls's does.
     */
    [kUpgrade](): void {
      const parent = this.#parent!;
      const connecting = parent.connecting;
      const take = (): void => {
        parent.off('error', failed);
        parent.off('close', closed);
        if (this.destroyed) return;
        const h = parent[kHandleOf]();
        if (h === 0 || parent.destroyed) {
          this.destroy();
          return;
        }
        // Its names stay readable (node:tls shares the handle): asked for now, while the
        // connection is still the socket's (a name is otherwise asked on first use).
        void parent.localAddress;
        void parent.remoteAddress;
        this[kTakeOver](h);
        if (connecting) super.emit('connect');
      };
      const failed = (err: Error): void => { parent.off('connect', take); parent.off('close', closed); this.destroy(err); };
      const closed = (): void => { parent.off('connect', take); parent.off('error', failed); this.destroy(); };
      if (connecting) {
        parent.once('connect', take);
        parent.once('error', failed);
        parent.once('close', closed);
      } else {
        take();
      }
    }

    override _write(chunk: any, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
      if (this.#held !== null) this.#held.push(() => super._write(chunk, encoding, cb));
      else super._write(chunk, encoding, cb);
    }

    override _writev(chunks: { chunk: any; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
      if (this.#held !== null) this.#held.push(() => super._writev!(chunks, cb));
      else super._writev!(chunks, cb);
    }

    override _final(cb: (err?: Error | null) => void): void {
      if (this.#held !== null) this.#held.push(() => super._final(cb));
      else super._final(cb);
    }

    override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
      // node:tls closes the socket it took over with the session: its 'close' comes after this
      // socket's 'error' and before this socket's 'close'.
      super._destroy(err, cb);
      if (this.#parent !== null && !this.#parent.destroyed) this.#parent.destroy();
    }

    override [kCarry](h: number): void {
      this.#backend.tlsConnect!(h, this.#tlsOptions);
    }

    #ask(): TlsState | null {
      const h = this[kHandleOf]();
      return h === 0 || this.#backend.tlsState === undefined ? null : this.#backend.tlsState(h);
    }

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      // A server's connection that fails its handshake is the server's 'tlsClientError' (the
      // application never had the socket), as on node:tls.
      if (event === 'error' && this.#side === 'accepted' && this.secureConnecting) return this.#server!.emit('tlsClientError', args[0], this);
      // node:tls's TLSSocket emits '_tlsError' ahead of an error that ends the handshake (a server's
      // that no tls.Server made: smtp-server listens for it).
      if (event === 'error' && this.#side === 'bare' && this.secureConnecting) super.emit('_tlsError', args[0]);
      // The core's CONNECT succeeds once the handshake did (or failed after TCP connected): the
      // session's state is there for 'connect' (http2 sets a session up from it, when it does
      // not know the socket for a TLS one), and 'secureConnect' follows 'ready'.
      if (event === 'connect' && this.secureConnecting && !this.#asked && !this.destroyed) this.#apply();
      if ((event === 'data' || event === 'end') && this.#ticketAsks > 0 && this.#state !== null && this.#side === 'client') this.#tickets();
      // A session over a connection the program had emits no 'ready', and 'connect' only when that
      // socket connects ([kUpgrade]: node:tls passes its 'connect' on), not when the handshake is over.
      const r = this.#parent !== null && (event === 'ready' || event === 'connect') ? false : super.emit(event, ...args);
      if (event === 'ready' && this.secureConnecting && this.#state !== null && !this.destroyed) this.#secured();
      // A server's session whose client ended before the handshake: what waited goes on (its end).
      else if (event === 'ready' && this.#side === 'bare' && this.#state === null && this.#held !== null) this.#release();
      return r;
    }

    /** The session's state, asked for once it is connected (a failed handshake: its error follows). */
    #apply(): void {
      this.#asked = true;
      const s = this.#ask();
      if (s !== null && 'error' in s) this.#failure = s;
      if (s === null || !('secure' in s)) return;
      const st = s.secure;
      this.#state = st;
      this.#live = ((s as { [kLive]?: nodeTls.TLSSocket })[kLive]) ?? null;
      this.authorized = st.authorized;
      this.authorizationError = st.authorizationError;
      this.alpnProtocol = st.alpnProtocol;
      this.servername = decode(st.servername);
    }

    /**
     * The session tickets the client session got, as 'session' events, asked for ahead of each
     * 'data' and 'end' after the handshake until some came (at most TICKET_ASKS times: each
     * question is a record of a recording). A TLS 1.3 server sends them right after the handshake,
     * before it answers a request, or after data it sent at once (node:tls then emits 'session'
     * after that 'data'; here before the next 'data' or 'end'); TLS 1.2's comes with the handshake
     * (node:tls: right after 'secureConnect'; here before the first 'data'). https.Agent caches
     * them and resumes the next session to that host with one.
     */
    #tickets(): void {
      this.#ticketAsks--;
      const h = this[kHandleOf]();
      const s = h === 0 || this.#backend.tlsState === undefined ? null : this.#backend.tlsState(h, true);
      if (s === null || !('sessions' in s)) return;
      this.#ticketAsks = 0;
      for (const t of s.sessions) super.emit('session', decode(t));
    }

    #secured(): void {
      this.secureConnecting = false;
      if (this.#side === 'client') {
        super.emit('secureConnect');
      } else {
        super.emit('secure');
        if (this.#side === 'accepted') this.#server!.emit('secureConnection', this);
      }
      this.#release();
    }

    /** The writes (and end) made while the session was not secure yet go on, in order. */
    #release(): void {
      const held = this.#held;
      this.#held = null;
      if (held !== null) for (const go of held) go();
    }

    override destroy(err?: Error | null, cb?: (err: Error | null) => void): this {
      // The core's read error for a failed session (UNKNOWN, ECONNRESET …) is the session's own error.
      if (err != null && typeof (err as NodeJS.ErrnoException).syscall === 'string' && !this.destroyed) {
        const s = this.#failure ?? this.#ask();
        if (s !== null && 'error' in s) err = ((s as { [kLive]?: Error })[kLive]) ?? decode(s.error) as Error;
      }
      return (Socket.prototype.destroy as (e?: Error | null, c?: unknown) => this).call(this, err, cb);
    }

    override resetAndDestroy(): this {
      // node:net's TLSSocket holds a TLSWrap, which cannot reset.
      if (this[kHandleOf]() !== 0) throw ERR_INVALID_HANDLE_TYPE();
      return super.resetAndDestroy();
    }

    /**
     * The session's state while the socket has it: node:net's TLSSocket answers from its TLSWrap,
     * which destroy() lets go of (null from then on).
     */
    #s(): SecureState | null | undefined {
      return this.destroyed ? undefined : this.#state;
    }

    getPeerCertificate(detailed?: boolean): object | null {
      const s = this.#s();
      if (s === undefined) return null;
      if (s === null) return {};
      const cert = decode(s.peerCertificate) as Record<string, unknown> | null;
      if (cert !== null && !detailed) delete cert.issuerCertificate;
      return cert ?? {};
    }

    getCertificate(): object | null { const s = this.#s(); return s === undefined ? null : s === null ? {} : decode(s.certificate) as object | null; }
    getProtocol(): string | null { return this.#s()?.protocol ?? null; }
    getCipher(): unknown { return this.#get('cipher'); }
    getEphemeralKeyInfo(): unknown { return this.#get('ephemeral'); }
    getSharedSigalgs(): unknown { return this.#get('sigalgs'); }
    isSessionReused(): boolean | null { const s = this.#s(); return s === undefined ? null : s?.reused ?? false; }
    getSession(): unknown { return this.#get('session'); }
    getTLSTicket(): unknown { return this.#get('ticket'); }
    getFinished(): unknown { return this.#get('finished'); }
    getPeerFinished(): unknown { return this.#get('peerFinished'); }

    /** A getter of the session's state: null once destroyed, undefined before the handshake (and where the session had none). */
    #get(key: 'cipher' | 'ephemeral' | 'sigalgs' | 'session' | 'ticket' | 'finished' | 'peerFinished'): unknown {
      const s = this.#s();
      if (s === undefined) return null;
      return s === null ? undefined : decode(s[key]) ?? undefined;
    }

    getPeerX509Certificate(): unknown {
      const raw = (this.getPeerCertificate() as { raw?: Buffer } | null)?.raw;
      return raw ? new (process.getBuiltinModule('node:crypto') as typeof import('node:crypto')).X509Certificate(raw) : undefined;
    }

    getX509Certificate(): unknown {
      const raw = (this.getCertificate() as { raw?: Buffer } | null)?.raw;
      return raw ? new (process.getBuiltinModule('node:crypto') as typeof import('node:crypto')).X509Certificate(raw) : undefined;
    }

    /** Keying material needs the session's keys: there in a live session, not in a replay. */
    exportKeyingMaterial(length: number, label: string, context?: Buffer): Buffer {
      if (this.#live === null) throw new Error('wasinet: exportKeyingMaterial() needs a live TLS session (not a replayed one)');
      return this.#live.exportKeyingMaterial(length, label, context as Buffer);
    }

    setServername(name: string): void { validateString(name, 'name'); }
    setSession(session: unknown): void { if (typeof session === 'string') Buffer.from(session, 'latin1'); }
    setMaxSendFragment(size: number): boolean { validateNumber(size, 'size'); return size >= 512 && size <= 16384; }
    disableRenegotiation(): void {}
    enableTrace(): void {}

    renegotiate(_options: object, callback?: (err: Error | null) => void): boolean {
      if (this.destroyed) return false;
      if (typeof callback === 'function') process.nextTick(callback, new Error('wasinet: a carried TLS session does not renegotiate'));
      return false;
    }
  };
}

type TLSSocketClass = ReturnType<typeof tlsSocketClass>;
const classes = new WeakMap<typeof Socket, TLSSocketClass>();
let wrapped = false;

/** The TLSSocket class for sockets of `stack`. */
function classFor(stack: Stack): TLSSocketClass {
  const Base = (stack as unknown as { Socket?: typeof Socket }).Socket ?? Socket;
  let C = classes.get(Base);
  if (C === undefined) {
    if (!wrapped) {
      wrapped = true;
      wrappersSeeTls();
    }
    C = tlsSocketClass(Base);
    Object.defineProperty(C.prototype, kIsTls, { value: true });
    classes.set(Base, C);
  }
  return C;
}

/**
 * http2 reads a session's `encrypted` and `alpnProtocol` from its socket — from Node's
 * JSStreamSocket when the socket is not one of Node's streams, as wasinet's are (wrapped.ts) —
 * and waits for a socket still `secureConnecting`: that wrapper answers them from the wasinet TLS
 * socket it wraps (otherwise undefined, as before), so that an http2 session over it is set up
 * once the handshake is over, `encrypted`, with its ALPN protocol (not 'h2c'), as over node:tls.
 * The class is reached through a TLSSocket over a bare Duplex (its TLSWrap's parent).
 */
function wrappersSeeTls(): void {
  try {
    const d = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
    const t = new nodeTls.TLSSocket(d as never);
    t.on('error', () => {});
    const wrap = (t as unknown as { ssl?: { _parentWrap?: object } }).ssl?._parentWrap;
    t.destroy();
    d.destroy();
    const proto = wrap ? Object.getPrototypeOf(wrap) as object : null;
    if (proto === null || 'encrypted' in proto) return;
    // http2 sets a session up at once unless its socket is `connecting` or `secureConnecting`,
    // and then waits for 'secureConnect' (a TLSSocket) or 'connect': a wrapper of a wasinet TLS
    // socket still in its handshake says so, and passes its 'secureConnect' on as both.
    const forwarding = Symbol('secureConnect passed on');
    Object.defineProperty(proto, 'secureConnecting', {
      configurable: true,
      get(this: Record<symbol | string, any>) {
        const s = this.stream as (Duplex & Record<symbol | string, unknown>) | undefined;
        if (s?.[kIsTls] !== true) return undefined;
        if (s.secureConnecting !== true || s.destroyed) return false;
        if (this[forwarding] !== true) {
          this[forwarding] = true;
          s.once('secureConnect', () => {
            this.emit('secureConnect');
            this.emit('connect');
          });
        }
        return true;
      },
    });
    for (const key of ['encrypted', 'alpnProtocol']) {
      const own = Symbol(key);
      Object.defineProperty(proto, key, {
        configurable: true,
        get(this: Record<symbol | string, any>) {
          if (own in this) return this[own];
          const s = this.stream as Record<symbol | string, unknown> | undefined;
          return s?.[kIsTls] === true ? s[key] : undefined;
        },
        set(this: Record<symbol, unknown>, v: unknown) { this[own] = v; },
      });
    }
  } catch {
    // Another runtime's tls: nothing to do.
  }
}

/** wasinet's TLSSocket passes `instanceof tls.TLSSocket` checks under the register hook (register.cts). */
export function tlsSocketsAreNodeTlsSockets(tls: typeof nodeTls): void {
  const Node = tls.TLSSocket;
  Object.defineProperty(Node, Symbol.hasInstance, {
    configurable: true,
    value: function hasInstance(this: unknown, x: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this, x) || (this === Node && (x as { [kIsTls]?: boolean } | null)?.[kIsTls] === true);
    },
  });
}

/**
 * A tls.Server's connection `socket` (an https or http2 secure server's too) as a session below
 * the core, where `socket` is a connection a stack accepted and that stack's backend carries TLS:
 * the session takes its connection over (as STARTTLS does), made by `nodeListener` (Node's own
 * connection listener of that server) on the backend's side (node-tls.ts), and the server gets
 * 'secureConnection' with a wasinet TLSSocket, or 'tlsClientError'. False (nothing done) for any
 * other socket.
 */
export function acceptTls(server: NodeJS.EventEmitter, socket: unknown, nodeListener: (...args: any[]) => void): boolean {
  return serverSide(socket, { server, accept: nodeListener }) !== null;
}

/**
 * `new tls.TLSSocket(socket, options)` with `isServer` (a STARTTLS server: smtp-server, ftp-srv)
 * where `socket` is a connected socket of a stack whose backend carries TLS: a session below the
 * core takes its connection over (as acceptTls does), made by Node's TLSSocket with `options` on
 * the backend's side; the socket returned emits 'secure' once it is secure, '_tlsError' and
 * 'error' when the handshake fails. Null for any other socket (Node's TLSSocket over it).
 */
export function serverTls(socket: unknown, options: Options): Socket | null {
  return serverSide(socket, { ...options, bare: true, allowHalfOpen: (socket as Socket | null)?.allowHalfOpen });
}

/** The server's side of a session over `socket`, if it is a connected socket of a stack that carries TLS. */
function serverSide(socket: unknown, tlsOptions: Options): Socket | null {
  if (!(socket instanceof Socket)) return null;
  const s = socket[kStackOf]();
  if (typeof s.backend.tlsConnect !== 'function' || socket.destroyed || socket.connecting) return null;
  const tls = new (classFor(s))({ allowHalfOpen: socket.allowHalfOpen, [kStack]: s }, tlsOptions, s, socket);
  tls[kUpgrade]();
  return tls;
}

/**
 * tls.connect(options[, cb]), tls.connect(port[, host][, options][, cb]), tls.connect(path[,
 * options][, cb]) on `stack` (null: the default stack). Where the backend carries no TLS, or the
 * options give a socket of their own, it is `original`'s (Node's own tls.connect, the default).
 */
export function connectTls(stack: Stack | null, original: ((...args: any[]) => unknown) | null, ...args: unknown[]): unknown {
  const fallback = original ?? nodeTls.connect;
  const normalized = normalizeArgs(args);
  const options: Options = normalized[0] as Options;
  const cb = normalized[1] as (() => void) | null;
  // As tls.connect: an options object after the port (and host) adds to them.
  if (args[1] !== null && typeof args[1] === 'object') Object.assign(options, args[1]);
  else if (args[2] !== null && typeof args[2] === 'object') Object.assign(options, args[2]);
  const s = stack ?? getDefaultStack();
  const parent = options.socket as Socket | null | undefined;
  if (parent != null && !(parent instanceof Socket && parent[kStackOf]() === s && typeof s.backend.tlsConnect === 'function')) {
    // A socket of another kind, or of a stack that carries no TLS: Node's TLS over it.
    return fallback(...args);
  }
  if (typeof s.backend.tlsConnect !== 'function') {
    // A backend that carries no TLS (the simulator, Deno's, Bun's): Node's TLS over a socket of
    // the stack, whose ciphertext the core sees.
    const S = (s as unknown as { Socket?: typeof Socket }).Socket ?? Socket;
    const raw = new S(options as never).connect(options as never);
    return cb ? fallback({ ...options, socket: raw }, cb) : fallback({ ...options, socket: raw });
  }
  // What tls.connect makes first (and throws from, for bad certificates or keys): the context.
  const tlsOptions: Options = { ...options };
  tlsOptions.secureContext = options.secureContext ?? nodeTls.createSecureContext(options as nodeTls.SecureContextOptions);
  delete tlsOptions.socket;
  if (parent != null) {
    // STARTTLS: the session takes the connection of the program's socket over (node-tls.ts).
    // node:tls checks the certificate against the name that socket connected to when no
    // servername or host is given.
    if (!options.servername && !options.host && typeof parent._host === 'string') tlsOptions.host = parent._host;
    const socket = new (classFor(s))({ allowHalfOpen: options.allowHalfOpen, highWaterMark: options.highWaterMark, [kStack]: s }, tlsOptions, s, parent);
    if (cb) socket.once('secureConnect', cb);
    socket[kUpgrade]();
    return socket;
  }
  const socket = new (classFor(s))({ allowHalfOpen: options.allowHalfOpen, highWaterMark: options.highWaterMark, signal: options.signal, [kStack]: s }, tlsOptions, s);
  if (cb) socket.once('secureConnect', cb);
  if (options.timeout) socket.setTimeout(options.timeout);
  socket.connect(options);
  return socket;
}
