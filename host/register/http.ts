// What `wasinet/register` does for Node's own HTTP (unless WASINET_HTTP=0): an application's
// `http.createServer(…).listen(…)`, its `http.request`/`http.get` and the global `fetch` run on
// wasinet too, so an unmodified web application (and the HTTP clients it calls) is what a
// recording holds and a replay replays. Node's http module and its undici keep Node's internal
// net, which the import hook cannot reach: here an http.Server listens through a wasinet server
// of its own, fed to http's own connection handling with `emit('connection', socket)`
// (docs/replay.md shows the same by hand), http.Agent's connections are wasinet's
// createConnection, and fetch's default dispatcher gets a connector on wasinet.
//
// The server's surface that sits on its listening handle — listen, close, address, listening,
// getConnections, ref, unref, maxConnections — is answered by that wasinet server, with
// node:net's behaviour (its events are re-emitted on the http.Server, and a callback runs with
// the http.Server as `this`). Everything above the connection (parsing, keep-alive, timeouts,
// closeIdleConnections) stays Node's, except that idle connections are closed in the order they
// came in (orderConnections). While the process records or replays (register.cts), tls.Server —
// and so https's and http2's secure servers — listens the same way, its connections' sessions
// below the core (routeTlsServers; stack.tlsServe does it for one server); https.Agent's and
// fetch's https connections call tls.connect, which register.cts then makes wasinet's
// (host/net/tls.ts: the session's plaintext goes through the core; its ciphertext, drawn from
// OpenSSL's randomness, could not be replayed), and plain http2 servers listen, and plain http2
// clients connect, through wasinet too (routeHttp2).
import type * as Net from 'node:net';
import type * as Http from 'node:http';
import type * as Tls from 'node:tls';
import type * as Http2 from 'node:http2';
import { ERR_SERVER_NOT_RUNNING } from '../net/errors.js';

/** The wasinet server an http.Server listens through (made at its first use). */
const kListener = Symbol('wasinet.httpListener');
/** maxConnections, kept on the http.Server as well: it may be set before the listener exists. */
const kMax = Symbol('wasinet.maxConnections');
/** http.Server's events that its listening handle gives (node:net's Server events). */
const FORWARDED = ['listening', 'connection', 'error', 'close', 'drop'] as const;

type Served = Http.Server & { [kListener]?: Net.Server; [kMax]?: number; keepAliveInitialDelay?: number; noDelay?: boolean; keepAlive?: boolean; pauseOnConnect?: boolean; allowHalfOpen?: boolean; highWaterMark?: number };

function listenerOf(net: typeof Net, server: Served): Net.Server {
  let l = server[kListener];
  if (l !== undefined) return l;
  // node:net's Server keeps the options http.Server gave it (keepAliveInitialDelay in seconds).
  // A tls.Server's connections are taken over by their TLS sessions before they read.
  const accept = (server as { [kAccept]?: TlsAccept })[kAccept];
  const carried = accept !== undefined ? carryTls(server as unknown as NodeJS.EventEmitter, accept) : routedTls !== null && routedTls(server);
  l = net.createServer({
    allowHalfOpen: server.allowHalfOpen,
    pauseOnConnect: carried || server.pauseOnConnect,
    noDelay: server.noDelay,
    keepAlive: server.keepAlive,
    keepAliveInitialDelay: (server.keepAliveInitialDelay ?? 0) * 1000,
    highWaterMark: server.highWaterMark,
  } as Net.ServerOpts);
  if (server[kMax] !== undefined) l.maxConnections = server[kMax];
  for (const event of FORWARDED) l.on(event, (...args: unknown[]) => server.emit(event, ...args));
  l.prependListener('connection', (socket: Net.Socket) => arrival.set(socket, ++arrivals));
  l.on('listening', () => orderConnections(server));
  if (typeof (server as { updateSettings?: unknown }).updateSettings === 'function') datesFromTheProgramsClock(server);
  // What closes the listener from within (listen's `signal` aborted) closes the http.Server, as
  // it does on node:net, where that server is the listener; http.Server.close closes the
  // listener with the prototype's close.
  l.close = function close(cb?: (err?: Error) => void) { server.close(cb); return this; };
  // node:net's `_handle` is the listening handle, which child_process.send(message, server)
  // passes to another process; `_connections` and `_connectionKey` are its bookkeeping, which
  // some libraries read: the listener's (http.Server's own would stay null, 0 and undefined).
  const own = l as unknown as Record<string, unknown>;
  for (const field of ['_handle', '_connections', '_connectionKey']) {
    Object.defineProperty(server, field, { configurable: true, enumerable: true, get: () => own[field], set: () => {} });
  }
  server[kListener] = l;
  return l;
}

/** host/net/tls.ts acceptTls: a tls.Server's connection as a session below the core, if it can be one. */
type TlsAccept = (server: NodeJS.EventEmitter, socket: unknown, nodeListener: (...args: any[]) => void) => boolean;

/** Set by routeTlsServers: carryTls for every tls.Server; true if `server` is one. */
let routedTls: ((server: object) => boolean) | null = null;
/** On a tls.Server that listens on a stack (serveTls): how its connections become sessions. */
const kAccept = Symbol('wasinet.tlsAccept');

/**
 * Node's own connection listener of tls.Server `server` (`tlsConnectionListener`, which makes
 * its TLSSocket over the raw connection) gives way to one that makes a wasinet connection a
 * session below the core (`accept`), so that a recording holds the plaintext the server read and
 * wrote. Other listeners of 'connection' keep their place; a socket that is not a wasinet one (a
 * program's own `emit('connection', …)`) goes to Node's listener. False where there is no such
 * listener (a subclass that made its own).
 */
function carryTls(server: NodeJS.EventEmitter, accept: TlsAccept): boolean {
  const listeners = server.rawListeners('connection') as ((...args: any[]) => void)[];
  const node = listeners.find((f) => f.name === 'tlsConnectionListener');
  if (node === undefined) return false;
  const carried = function carriedTlsConnection(this: NodeJS.EventEmitter, socket: unknown) {
    if (accept(this, socket, node)) return;
    // Node's TLS over it. One of our listener's, which did not start it reading (node:net's would
    // have), reads now; a socket the program emitted itself is left as it gave it.
    if (socket !== null && typeof socket === 'object' && arrival.has(socket)) (socket as { resume(): void }).resume();
    node.call(this, socket);
  };
  server.removeAllListeners('connection');
  for (const f of listeners) server.on('connection', f === node ? carried : f);
  return true;
}

/**
 * tls.Server, and so https's and http2's secure servers, listen through a wasinet server too
 * (register.cts does this while the process records or replays), and their connections are
 * sessions below the core (carryTls).
 */
export function routeTlsServers(net: typeof Net, tls: typeof Tls, accept: TlsAccept): void {
  const Server = tls.Server;
  routeListening(net, Server.prototype, false);
  routedTls = (server) => server instanceof Server && carryTls(server, accept);
}

/**
 * Plain http2 servers (h2c: http2.createServer) listen through a wasinet server too, fed to
 * http2's own connection handling (register.cts does this while the process records or replays,
 * when http2 is loaded anyway: loading it takes about 6 ms).
 */
export function routeHttp2(net: typeof Net, http2: typeof Http2): void {
  routeListening(net, Object.getPrototypeOf(http2.createServer()) as object, false);
  // And plain http2 clients: `http2.connect('http://…')` opens its connection with Node's
  // internal net.connect; given a createConnection of wasinet's instead (one the program gave
  // is kept), the session runs over a wasinet socket, as over any socket that is not Node's.
  const original = http2.connect;
  const connect = function connect(this: unknown, authority: unknown, options?: unknown, listener?: unknown) {
    if (typeof options === 'function') {
      listener = options;
      options = undefined;
    }
    const target = h2cTarget(authority, options);
    if (target !== null) {
      options = {
        ...(options as object | undefined),
        createConnection: (_: unknown, o: object) => net.connect({ port: target.port, host: target.host, ...o } as unknown as Net.NetConnectOpts),
      };
    }
    return Reflect.apply(original, this, listener === undefined ? [authority, options] : [authority, options, listener]) as Http2.ClientHttp2Session;
  };
  for (const key of Reflect.ownKeys(original)) {
    if (key !== 'length' && key !== 'name' && key !== 'prototype') Object.defineProperty(connect, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  http2.connect = connect as typeof http2.connect;
}

/**
 * The port and host `http2.connect(authority, options)` would give Node's internal net.connect
 * (an `http:` authority, no createConnection of the program's), worked out as http2 does; null
 * for anything else, which http2 handles (or rejects) itself.
 */
function h2cTarget(authority: unknown, options: unknown): { port: string; host: string } | null {
  if (options !== undefined && (options === null || typeof options !== 'object')) return null;
  const o = options as { createConnection?: unknown; protocol?: unknown } | undefined;
  if (typeof o?.createConnection === 'function') return null;
  let a: { protocol?: string; port?: string; hostname?: string; host?: string };
  if (typeof authority === 'string') {
    try {
      a = new URL(authority);
    } catch {
      return null;
    }
  } else if (authority !== null && typeof authority === 'object') {
    a = authority as typeof a;
  } else {
    return null;
  }
  if ((a.protocol || o?.protocol || 'https:') !== 'http:') return null;
  const port = '' + (a.port !== '' ? a.port : a.protocol === 'http:' ? 80 : 443);
  let host = 'localhost';
  if (a.hostname) host = a.hostname[0] === '[' ? a.hostname.slice(1, -1) : a.hostname;
  else if (a.host) host = a.host;
  return { port, host };
}

/**
 * tls.Server `server` (a tls, https or http2 secure server) listens through a server of `net`
 * (a stack's), and its connections are sessions below the core: `stack.tlsServe` (create.ts).
 */
export function serveTls<T extends Tls.Server>(net: typeof Net, server: T, accept: TlsAccept): T {
  // https's and http2's close do http's part before tls.Server's close: here the server's own
  // close is the listener's, so it does that part itself.
  routeListening(net, server, typeof (server as unknown as Served).closeIdleConnections === 'function');
  (server as { [kAccept]?: TlsAccept })[kAccept] = accept;
  return server;
}

/** An object's own symbol-keyed value, found by the symbol's description (Node's internal symbols are not exported). */
function bySymbol(o: object, description: string): unknown {
  const key = Object.getOwnPropertySymbols(o).find((s) => s.description === description);
  return key === undefined ? undefined : (o as Record<symbol, unknown>)[key];
}

/** The order connections came in (a listener's accepted sockets), for orderConnections. */
const arrival = new WeakMap<object, number>();
let arrivals = 0;
let ordered = false;

/**
 * Makes the order in which an http.Server's idle connections are closed the order they came in.
 * Node keeps a server's connections in a set that orders idle ones by their parser's address in
 * memory, so `close()` (which closes the idle keep-alive connections first),
 * `closeIdleConnections()` and `closeAllConnections()` destroy two or more idle connections in an
 * order that differs from run to run — and a replay of the program then finds its destroy calls
 * in another order than recorded. Any order is Node's; this one is the same every run. Active
 * connections keep Node's order (by when their request started). Patched once, on the
 * connection list's prototype, when a listening server has its list (http makes it on
 * 'listening').
 */
function orderConnections(server: object): void {
  if (ordered) return;
  const list = bySymbol(server, 'http.server.connections');
  if (list === null || typeof list !== 'object') return;
  const proto = Object.getPrototypeOf(list) as { idle(): { socket?: object }[]; active(): unknown[]; all(): unknown[] };
  if (typeof proto.idle !== 'function' || typeof proto.active !== 'function' || typeof proto.all !== 'function') return;
  ordered = true;
  const idle = proto.idle;
  const active = proto.active;
  const rank = (c: { socket?: object }): number => (c.socket !== undefined && arrival.get(c.socket)) || Infinity;
  // A stable sort: connections that did not come from a listener of ours keep Node's order.
  const byArrival = (cs: { socket?: object }[]) => cs.sort((a, b) => (rank(a) === rank(b) ? 0 : rank(a) < rank(b) ? -1 : 1));
  proto.idle = function (this: object) { return byArrival(idle.call(this)); };
  // Node's set puts idle connections before active ones.
  proto.all = function (this: object) { return [...byArrival(idle.call(this)), ...active.call(this)]; };
}

let datedStreams = false;

/**
 * An http2 server's responses get their `date` header from the program's clock (`new Date()`),
 * as Node's would from its own: Node's internal clock, which a replay cannot set back, HPACK
 * encodes into the response's HEADERS frame, where a replay could not tell it from any other
 * byte (HTTP/1's Date is told apart: app-replay.ts). The program's `new Date()` is what a
 * recording keeps and a replay gives back (trace/clock.ts), so a replayed response is the
 * recorded one, byte for byte. Patched on the server streams' prototype, reached through the
 * first stream a routed http2 server emits; a response given a date, or `sendDate: false`,
 * keeps it.
 */
function datesFromTheProgramsClock(server: NodeJS.EventEmitter): void {
  if (datedStreams) return;
  const emit = server.emit;
  server.emit = function (this: NodeJS.EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'stream' && !datedStreams) {
      datedStreams = true;
      const proto = Object.getPrototypeOf(args[0]) as Record<string, (...a: any[]) => unknown>;
      for (const method of ['respond', 'respondWithFD', 'respondWithFile']) {
        const original = proto[method];
        if (typeof original !== 'function') continue;
        // respondWithFD(fd, headers, options), respondWithFile(path, headers, options), respond(headers, options).
        const at = method === 'respond' ? 0 : 1;
        proto[method] = function (this: unknown, ...a: any[]) {
          const headers = a[at] as Record<string | symbol, unknown> | null | undefined;
          const options = a[at + 1] as { sendDate?: boolean } | null | undefined;
          if ((options?.sendDate == null || options.sendDate) && !Array.isArray(headers) && (headers == null || headers.date == null)) {
            a[at] = { ...(headers ?? {}), date: new Date().toUTCString() };
          }
          return original.apply(this, a);
        };
      }
    }
    return emit.call(this, event, ...args);
  };
}

/** The timer http.Server arms on 'listening' to expire requests (node's httpServerPreClose clears it). */
function checkingTimer(server: object): NodeJS.Timeout | undefined {
  return bySymbol(server, 'http.server.connectionsCheckingInterval') as NodeJS.Timeout | undefined;
}

/**
 * Under the hook `net` is wasinet's, but Node's own modules make node:net's servers and sockets
 * (an http.Server or https.Server extends node:net's Server, a TLSSocket its Socket). On node:net
 * `server instanceof net.Server` and `tlsSocket instanceof net.Socket` hold for them, and
 * libraries test that: so they hold here too (with or without WASINET_HTTP). Only for
 * net.Server and net.Socket themselves: a subclass of either keeps the plain test.
 */
export function nodeClassesAreNetClasses(net: typeof Net, nodeNet: typeof Net): void {
  for (const [ours, node] of [[net.Server, nodeNet.Server], [net.Socket, nodeNet.Socket]] as const) {
    if (ours === node) continue;
    Object.defineProperty(ours, Symbol.hasInstance, {
      configurable: true,
      value: function hasInstance(this: unknown, x: unknown): boolean {
        return Function.prototype[Symbol.hasInstance].call(this, x) || (this === ours && x instanceof node);
      },
    });
  }
}

/**
 * The listening surface of `proto`'s servers (http.Server's, or tls.Server's: https and http2's
 * secure servers extend it) answered by a wasinet server of each one's own (listenerOf).
 * `preClose`: what http.Server.close does before its net close (https's and http2's close do it
 * themselves before they call tls.Server's).
 */
function routeListening(net: typeof Net, proto: object, preClose: boolean): void {
  Object.defineProperties(proto, {
    listen: {
      configurable: true, writable: true,
      value: function listen(this: Served, ...args: unknown[]) {
        const l = listenerOf(net, this);
        const cb = typeof args[args.length - 1] === 'function' ? args.pop() as () => void : null;
        // node:net registers the callback unless the server is listening already (which throws).
        if (cb !== null && !l.listening) this.once('listening', cb);
        (l.listen as (...a: unknown[]) => void)(...args);
        return this;
      },
    },
    close: {
      configurable: true, writable: true,
      value: function close(this: Served, cb?: (err?: Error) => void) {
        if (preClose) {
          // What Node's http.Server.close does before its net close: idle keep-alive connections
          // end, and the request-expiry timer stops.
          this.closeIdleConnections();
          clearInterval(checkingTimer(this));
        }
        const l = listenerOf(net, this);
        if (typeof cb === 'function') {
          if (l.listening) this.once('close', cb);
          else this.once('close', () => cb(ERR_SERVER_NOT_RUNNING()));
        }
        net.Server.prototype.close.call(l);
        return this;
      },
    },
    address: {
      configurable: true, writable: true,
      value: function address(this: Served) { return this[kListener]?.address() ?? null; },
    },
    getConnections: {
      configurable: true, writable: true,
      value: function getConnections(this: Served, cb: (err: Error | null, count: number) => void) {
        listenerOf(net, this).getConnections(cb);
        return this;
      },
    },
    ref: {
      configurable: true, writable: true,
      value: function ref(this: Served) { listenerOf(net, this).ref(); return this; },
    },
    unref: {
      configurable: true, writable: true,
      value: function unref(this: Served) { listenerOf(net, this).unref(); return this; },
    },
    listening: {
      configurable: true,
      get(this: Served) { return this[kListener]?.listening ?? false; },
    },
    maxConnections: {
      configurable: true,
      get(this: Served) { return this[kMax]; },
      set(this: Served, v: number) {
        this[kMax] = v;
        const l = this[kListener];
        if (l !== undefined) l.maxConnections = v;
      },
    },
  });
}

export function routeHttp(net: typeof Net, http: typeof Http): void {
  routeListening(net, http.Server.prototype, true);
  // Every agent's connections, the global agent's included (an agent or request given its own
  // createConnection keeps it).
  http.Agent.prototype.createConnection = function createConnection(this: Http.Agent, ...args: unknown[]) {
    return (net.createConnection as (...a: unknown[]) => Net.Socket)(...args);
  } as typeof http.Agent.prototype.createConnection;
}

// ---------------------------------------------------------------- the global fetch

/** Where Node's undici (and undici from npm) keeps the global dispatcher. */
const DISPATCHER = Symbol.for('undici.globalDispatcher.1');
/** undici's default connector's connect timeout. */
const CONNECT_TIMEOUT_MS = 10_000;

interface ConnectOpts { hostname: string; protocol: string; port: string | number; servername?: string | null; localAddress?: string | null; httpSocket?: Net.Socket }
type Connector = (opts: ConnectOpts, callback: (err: Error | null, socket: Net.Socket | null) => void) => Net.Socket;
type AgentLike = { constructor: new (opts: object) => object };

/**
 * An undici connector that opens http's connections with wasinet's net (https's with tls.connect,
 * as undici's own does: TLS stays on Node's net, see http.ts's head), as undici's default one
 * sets them up: no delay, keep-alive after 60 s, given up after 10 s.
 */
function connector(net: typeof Net, tlsModule: () => typeof Tls): Connector {
  return (opts, callback) => {
    const secure = opts.protocol === 'https:';
    const tls = secure ? tlsModule() : null;
    const port = Number(opts.port) || (secure ? 443 : 80);
    const localAddress = opts.localAddress ?? undefined;
    const socket = tls !== null
      ? tls.connect({ host: opts.hostname, port, servername: opts.servername || (net.isIP(opts.hostname) === 0 ? opts.hostname : undefined), localAddress, ALPNProtocols: ['http/1.1'], socket: opts.httpSocket } as Tls.ConnectionOptions)
      : net.connect({ host: opts.hostname, port, localAddress });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const ready = secure ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`Connect Timeout Error (attempted address: ${opts.hostname}:${port}, timeout: ${CONNECT_TIMEOUT_MS}ms)`),
        { name: 'ConnectTimeoutError', code: 'UND_ERR_CONNECT_TIMEOUT' });
      socket.destroy(err);
    }, CONNECT_TIMEOUT_MS);
    timer.unref();
    const onReady = (): void => { clearTimeout(timer); socket.off('error', onError); callback(null, socket); };
    const onError = (err: Error): void => { clearTimeout(timer); socket.off(ready, onReady); callback(err, null); };
    socket.once(ready, onReady).once('error', onError);
    return socket;
  };
}

/**
 * The same agent as `d` with wasinet's connector, if `d` is an undici Agent with the default
 * connector that has connected nothing yet (Node's own default, made as its undici loads);
 * anything else (a MockAgent, a ProxyAgent, an Agent with a connector of its own) is left as is.
 */
function routedAgent(d: unknown, connect: Connector): object | null {
  if (d === null || typeof d !== 'object' || (d as AgentLike).constructor?.name !== 'Agent') return null;
  const agent = d as AgentLike;
  const options = bySymbol(agent, 'options') as Record<string, unknown> | undefined;
  const clients = bySymbol(agent, 'clients') as Map<unknown, unknown> | undefined;
  if (options === undefined || options.connect !== undefined || clients === undefined || clients.size > 0) return null;
  return new agent.constructor({ ...options, connect });
}

/**
 * The global fetch (Node's undici, on Node's internal net) with its connections on wasinet: its
 * default dispatcher, once undici has made it, becomes the same Agent with wasinet's connector —
 * looked at again whenever the program set another.
 */
export function routeFetch(net: typeof Net, tls: () => typeof Tls): void {
  const original = globalThis.fetch;
  if (typeof original !== 'function') return;
  const connect = connector(net, tls);
  const g = globalThis as unknown as Record<symbol, unknown>;
  let seen: unknown;
  const fetch = function fetch(this: unknown, ...args: Parameters<typeof globalThis.fetch>) {
    let d = g[DISPATCHER];
    // Node loads its undici (which makes its default Agent) when the program first uses fetch
    // or one of its classes: made now, it can be replaced before this request.
    if (d === undefined) {
      void globalThis.Response;
      d = g[DISPATCHER];
    }
    if (d !== seen) {
      const routed = routedAgent(d, connect);
      if (routed !== null) g[DISPATCHER] = d = routed;
      seen = d;
    }
    return Reflect.apply(original, this, args) as ReturnType<typeof globalThis.fetch>;
  };
  Object.defineProperty(fetch, 'length', { value: original.length });
  globalThis.fetch = fetch as typeof globalThis.fetch;
}
