// TLS sessions below the core: a client socket of host/net/tls.ts connects through Node's own
// tls.connect, and the core sees the session's plaintext. So a recording holds what the
// application read and wrote (a TLS session's ciphertext cannot be replayed: the handshake draws
// OpenSSL's randomness), and an application replay gives it back with the session's state from
// the trace (tls-state.ts).
//
// Each session is the public-API backend's raw transport with a TLSSocket in place of a
// node:net Socket (node-public.ts: the same reads, writes, FIN and close), except for connect:
//
// - the core's CONNECT succeeds at 'secureConnect', with the session's state ready for the
//   socket above to read (tlsState);
// - a handshake that fails after TCP connected (a certificate refused, the peer closing) makes
//   CONNECT succeed and the failure follow as a read error, as node:net's TLSSocket emits
//   'connect' and then the error; its error object is the state, which the socket above emits
//   in place of the core's errno;
// - a TCP connect that fails is the core's connect failure (the core then tries the next
//   address, as net does);
// - an OPEN of kind 2 (tls.connect({ socket }), STARTTLS) opens the session over a connection of
//   the outer backend, which hands its transport over (releaseConn): TCP is up already;
// - the server's side (an OPEN of kind 2 over an accepted connection, with the server's own
//   connection listener: #serverSession): CONNECT succeeds at the server's 'secureConnection'
//   and fails at its 'tlsClientError', with the session's error as the state.
//
// The node backends (node-common.ts) hand a handle's commands here once tlsConnect marked it.
import tls from 'node:tls';
import type net from 'node:net';
import type { Output } from '../core/core.js';
import { Op, SYSCALL, ERRNO } from '../core/abi.js';
import { abiErrno } from '../core/errno.js';
import { splitNames } from '../core/names.js';
import { CREDIT, syscallOf, type NodeBackendBase } from './node-common.js';
import { PublicNodeBackend, Conn } from './node-public.js';
import { encode, kLive, kSocket, secureStateOf, type TlsState } from './tls-state.js';

/** Options of tls.connect that are the socket's own (the core's): never the raw session's. */
const SOCKET_OPTIONS = ['socket', 'path', 'host', 'port', 'family', 'hints', 'lookup', 'localAddress', 'localPort',
  'timeout', 'signal', 'onread', 'allowHalfOpen', 'autoSelectFamily', 'autoSelectFamilyAttemptTimeout', 'noDelay',
  'keepAliveInitialDelay', 'fd', 'readable', 'writable', 'highWaterMark'];

/** On a tls.connect that wasinet put in place of Node's (register.cts): Node's. */
export const kNodeConnect = Symbol.for('wasinet.nodeTlsConnect');
/** On the tls module, where register.cts put a TLSSocket of wasinet's in place of Node's: Node's. */
export const kNodeTLSSocket = Symbol.for('wasinet.nodeTLSSocket');

export class TlsCarrier extends PublicNodeBackend {
  readonly #options = new Map<number, Record<string, unknown>>();
  readonly #states = new Map<number, TlsState>();
  /** Session tickets a client session got (its 'session' events) that its socket was not told of yet. */
  readonly #tickets = new Map<number, Buffer[]>();

  /** `outer`: the backend whose connections a session may take over (tls.connect({ socket })). */
  constructor(readonly outer: NodeBackendBase) {
    super();
  }

  /** Handle `h`'s next CONNECT opens a session with tls.connect's `options` (as the application gave them). */
  expect(h: number, options: Record<string, unknown>): void {
    this.#options.set(h, options);
    this.#states.delete(h);
    this.#tickets.delete(h);
  }

  /**
   * A TLS write that did not complete in the call completes from a tick (the stream's callback
   * of a TLSWrap write), which an application replay cannot place within the turn it came in:
   * it is reported from the check phase, a turn of its own, instead.
   */
  protected override later(done: (err?: Error | null) => void): (err?: Error | null) => void {
    return (err) => { setImmediate(done, err); };
  }

  owns(h: number): boolean {
    return this.#options.has(h);
  }

  state(h: number, news = false): TlsState | null {
    if (!news) return this.#states.get(h) ?? null;
    const got = this.#tickets.get(h);
    if (got === undefined || got.length === 0) return null;
    this.#tickets.delete(h);
    return { sessions: got.map((t) => encode(t)) };
  }

  protected override execConn(o: Output): void {
    if (o.op === Op.CMD_OPEN && o.b === 2) return this.#upgrade(o.h, o.a);
    super.execConn(o);
    if (o.op === Op.CMD_CLOSE) {
      this.#options.delete(o.h);
      this.#states.delete(o.h);
      this.#tickets.delete(o.h);
    }
  }

  /** The session's options: the application's tls.connect options but the socket's own, and half-open (the core decides). */
  #sessionOptions(h: number): { given: Record<string, unknown>; options: Record<string, unknown> } {
    const given = this.#options.get(h)!;
    const options: Record<string, unknown> = {};
    for (const key of Object.keys(given)) if (!SOCKET_OPTIONS.includes(key)) options[key] = given[key];
    options.allowHalfOpen = true;
    return { given, options };
  }

  protected override connect(o: Output): void {
    const h = o.h;
    this.dropAttempt(h);
    const [address, localAddress] = splitNames(o.data);
    const family = o.b;
    const { given, options } = this.#sessionOptions(h);
    if (family === 0) {
      options.path = address;
    } else {
      // The application's host name stays the session's (its certificate is checked against
      // it); the address is the one the core chose, given back by the lookup.
      options.host = given.host ?? address;
      options.port = o.a;
      options.family = family;
      options.autoSelectFamily = false;
      options.lookup = (_name: string, opts: { all?: boolean }, cb: (...a: unknown[]) => void) => {
        if (opts.all) cb(null, [{ address, family }]);
        else cb(null, address, family);
      };
      if (localAddress) options.localAddress = localAddress;
      if (o.c) options.localPort = o.c;
    }
    this.#session(h, options, family, false);
  }

  /**
   * A session over connection `parent` of the outer backend (tls.connect({ socket }) on a
   * connected socket: STARTTLS): the session takes the connection over, and `h` carries its
   * plaintext. TCP is up already: a failed handshake is a read error of a connected socket.
   */
  #upgrade(h: number, parent: number): void {
    const raw = this.outer.releaseConn(parent);
    if (raw === null) {
      this.core.onConnect(h, ERRNO.EBADF, SYSCALL.connect, 0, 0, 0, 0, '', '');
      return;
    }
    const family = raw.remoteFamily === 'IPv6' ? 6 : raw.remoteFamily === 'IPv4' ? 4 : 0;
    const { given, options } = this.#sessionOptions(h);
    if (typeof given.accept === 'function') return this.#serverSession(h, given, raw, family);
    if (given.bare === true) return this.#bareSession(h, given, options, raw, family);
    if (given.host !== undefined) options.host = given.host;
    options.socket = raw;
    // The connection's names are the socket's (a TLSSocket over a socket answers none of its own).
    this.#session(h, options, family, true, raw);
  }

  /**
   * The server's side of a session over accepted connection `plain` (a tls.Server, https or
   * http2 secure server routed through a wasinet server: host/register/http.ts). Node's own
   * connection listener of that server (`given.accept`) makes the session, with every option and
   * callback of the server (SNI contexts, ALPN, client certificates, handshake timeout, session
   * and OCSP events), on a stand-in for the server that passes its events on but the two that
   * end the handshake: 'secureConnection' (the session is secure and authorized, as the server
   * decided: the core's CONNECT succeeds) and 'tlsClientError' (it failed, or the client closed
   * first: CONNECT fails, and the socket above gives the server that error).
   */
  #serverSession(h: number, given: Record<string, unknown>, plain: net.Socket, family: number): void {
    const server = given.server as NodeJS.EventEmitter;
    const accept = given.accept as (this: object, socket: net.Socket) => void;
    // The session is made half-open as the server's connections are (Node's listener takes it
    // from the socket it is given): a client that ends during the handshake closes it, and the
    // server hears of it ('tlsClientError', ECONNRESET).
    const { secured, failed } = this.#serverSide(h, plain, family, (server as { allowHalfOpen?: boolean }).allowHalfOpen === true);
    const standIn = Object.create(server) as NodeJS.EventEmitter;
    standIn.emit = function emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'secureConnection') secured(args[0] as tls.TLSSocket);
      else if (event === 'tlsClientError') failed(args[0] as NodeJS.ErrnoException);
      // The server's 'keylog' names the connection's socket: the program's, not the session's.
      else if (event === 'keylog') return server.emit(event, args[0], (given as Record<symbol, unknown>)[kSocket] ?? args[1]);
      else return server.emit(event, ...args);
      return true;
    };
    accept.call(standIn, plain);
  }

  /**
   * The server's side of a session that `new tls.TLSSocket(socket, { isServer: true, … })` made
   * on a socket of the stack (host/net/tls.ts serverTls: a STARTTLS server). Node's TLSSocket
   * with those options makes it here: CONNECT succeeds at its 'secure' and fails at its error;
   * a client that ends before the handshake is over gives a connected socket's EOF (node:tls's
   * socket emits 'end' and closes, with no error).
   */
  #bareSession(h: number, given: Record<string, unknown>, options: Record<string, unknown>, plain: net.Socket, family: number): void {
    delete options.bare;
    delete options.allowHalfOpen;
    options.isServer = true;
    const { secured, failed, ended } = this.#serverSide(h, plain, family, given.allowHalfOpen === true);
    const NodeTLSSocket = (tls as { [kNodeTLSSocket]?: typeof tls.TLSSocket })[kNodeTLSSocket] ?? tls.TLSSocket;
    const session = new NodeTLSSocket(plain, options);
    this.#keylog(session, given);
    session.once('secure', () => secured(session));
    session.on('error', (err: NodeJS.ErrnoException) => failed(err));
    // Ahead of node:net's own 'end' listener, which would end a session that is not half-open.
    session.prependListener('end', () => ended(session));
  }

  /**
   * A live session's 'keylog' lines (NSS key log format: what Wireshark decrypts a capture with)
   * go to the program's socket, when it listens for them (node:tls turns OpenSSL's callback on
   * only then; here it is on for every session, a few lines a handshake). Not recorded.
   */
  #keylog(session: tls.TLSSocket, options: Record<string | symbol, unknown>): void {
    const socket = options[kSocket] as NodeJS.EventEmitter | undefined;
    if (socket === undefined) return;
    session.on('keylog', (line: Buffer) => { if (socket.listenerCount('keylog') > 0) socket.emit('keylog', line); });
  }

  /**
   * What the two server sides share: until the handshake is over the connection is `plain`
   * (CLOSE destroys it, and the session with it); then the session (`secured`: CONNECT
   * succeeds, with the session's state), or its error (`failed`: CONNECT fails, the error is
   * the state), or the client's EOF (`ended`: a connected socket that has nothing to read).
   * `allowHalfOpen`: the session's until then (Node's TLSSocket takes it from `plain`).
   */
  #serverSide(h: number, plain: net.Socket, family: number, allowHalfOpen: boolean): {
    secured: (session: tls.TLSSocket) => void; failed: (err: NodeJS.ErrnoException) => void; ended: (session: tls.TLSSocket) => void;
  } {
    const conn = new Conn(plain, true);
    this.conns.set(h, conn);
    plain.allowHalfOpen = allowHalfOpen;
    const current = (): boolean => this.conns.get(h) === conn && !conn.closing && conn.connecting;
    const plainClosed = (): void => this.rawClosed(h, conn);
    plain.on('close', plainClosed);
    const connected = (session: tls.TLSSocket): void => {
      plain.off('close', plainClosed);
      session.pause(); // nothing is read until READ_START
      session.allowHalfOpen = true; // from now on the core decides when to end
      conn.raw = session;
      conn.connecting = false;
      this.wire(h, conn);
      this.core.onConnect(h, 0, 0, CREDIT, plain.localPort ?? 0, plain.remotePort ?? 0, family,
        plain.localAddress ?? '', plain.remoteAddress ?? '');
    };
    return {
      secured: (session) => {
        if (!current()) return;
        this.#states.set(h, { secure: secureStateOf(session), [kLive]: session } as TlsState);
        connected(session);
      },
      failed: (err) => {
        if (!current()) return;
        conn.connecting = false;
        this.#states.set(h, { error: encode(err), [kLive]: err } as TlsState);
        this.core.onConnect(h, abiErrno(err.code), SYSCALL.connect, 0, 0, 0, 0, '', '');
      },
      ended: (session) => {
        if (!current()) return;
        connected(session);
        this.core.onEof(h);
      },
    };
  }

  #session(h: number, options: Record<string, unknown>, family: number, tcpUp: boolean, names: net.Socket | null = null): void {
    // Node's own tls.connect, also where the register hook made tls.connect this module's caller.
    const connect = (tls.connect as { [kNodeConnect]?: typeof tls.connect })[kNodeConnect] ?? tls.connect;
    const raw = connect(options as tls.ConnectionOptions);
    raw.pause(); // nothing is read until READ_START
    const conn = new Conn(raw, true);
    this.conns.set(h, conn);
    let tcp = tcpUp;
    const named = names ?? raw;
    const connected = (): void => {
      conn.connecting = false;
      this.core.onConnect(h, 0, 0, CREDIT, named.localPort ?? 0, named.remotePort ?? 0, family,
        named.localAddress ?? '', named.remoteAddress ?? '');
    };
    raw.once('connect', () => { tcp = true; });
    this.#keylog(raw, this.#options.get(h) ?? {});
    // Its session tickets, for the socket above to pass on (https.Agent resumes sessions with them).
    raw.on('session', (ticket: Buffer) => {
      if (this.conns.get(h) !== conn) return;
      const got = this.#tickets.get(h);
      if (got === undefined) this.#tickets.set(h, [ticket]);
      else got.push(ticket);
    });
    raw.once('secureConnect', () => {
      if (this.conns.get(h) !== conn || conn.closing) return;
      this.#states.set(h, { secure: secureStateOf(raw), [kLive]: raw } as TlsState);
      connected();
    });
    // Ahead of the raw transport's own listeners (wire): the handshake's failure, once TCP is
    // up, is a connected socket's error; a peer that ends first (tls's own 'end' listener
    // turns that into ECONNRESET, a tick later) likewise.
    let endedFirst = false;
    raw.prependListener('error', (err: NodeJS.ErrnoException) => {
      if (this.conns.get(h) !== conn || conn.closing || (!tcp && conn.connecting)) return;
      this.#states.set(h, { error: encode(err), [kLive]: err } as TlsState);
      if (conn.connecting) connected();
      if (endedFirst && !conn.errorReported) {
        // The peer ended before the handshake: on node:net the TLSSocket's 'end' is that very
        // event, ahead of the error tls makes of it a tick later. Here the 'end' is the core's,
        // which the socket above emits a tick after its EOF: the error follows it from the check
        // phase (a turn of its own, which an application replay keeps apart from the EOF's).
        conn.errorReported = true; // not the raw transport's own handler (node-public.ts)
        setImmediate(() => {
          if (this.conns.get(h) === conn && !conn.closing) this.core.onError(h, abiErrno(err.code), syscallOf(err, SYSCALL.read));
        });
      }
    });
    raw.on('end', () => {
      if (this.conns.get(h) !== conn || conn.closing || !conn.connecting || !tcp) return;
      endedFirst = true;
      connected();
    });
    this.wire(h, conn);
  }
}
