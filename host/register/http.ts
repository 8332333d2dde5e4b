// What `wasinet/register` does for Node's own HTTP (unless WASINET_HTTP=0): an application's
// `http.createServer(…).listen(…)` and its `http.request`/`http.get` run on wasinet too, so an
// unmodified web application (and the HTTP clients it calls) is what a recording holds and a
// replay replays. Node's http module keeps Node's internal net, which the import hook cannot
// reach: here an http.Server listens through a wasinet server of its own, fed to http's own
// connection handling with `emit('connection', socket)` (docs/replay.md shows the same by hand),
// and http.Agent's connections are wasinet's createConnection.
//
// The server's surface that sits on its listening handle — listen, close, address, listening,
// getConnections, ref, unref, maxConnections — is answered by that wasinet server, with
// node:net's behaviour (its events are re-emitted on the http.Server, and a callback runs with
// the http.Server as `this`). Everything above the connection (parsing, keep-alive, timeouts,
// closeIdleConnections) stays Node's. https, tls and http2 servers and https.Agent are left on
// Node's net: a TLS session's bytes draw OpenSSL's randomness, which a replay cannot give back.
import type * as Net from 'node:net';
import type * as Http from 'node:http';
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
  l = net.createServer({
    allowHalfOpen: server.allowHalfOpen,
    pauseOnConnect: server.pauseOnConnect,
    noDelay: server.noDelay,
    keepAlive: server.keepAlive,
    keepAliveInitialDelay: (server.keepAliveInitialDelay ?? 0) * 1000,
    highWaterMark: server.highWaterMark,
  } as Net.ServerOpts);
  if (server[kMax] !== undefined) l.maxConnections = server[kMax];
  for (const event of FORWARDED) l.on(event, (...args: unknown[]) => server.emit(event, ...args));
  // What closes the listener from within (listen's `signal` aborted) closes the http.Server, as
  // it does on node:net, where that server is the listener; http.Server.close closes the
  // listener with the prototype's close.
  l.close = function close(cb?: (err?: Error) => void) { server.close(cb); return this; };
  server[kListener] = l;
  return l;
}

/** The timer http.Server arms on 'listening' to expire requests (node's httpServerPreClose clears it). */
function checkingTimer(server: object): NodeJS.Timeout | undefined {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
  return key === undefined ? undefined : (server as Record<symbol, NodeJS.Timeout | undefined>)[key];
}

export function routeHttp(net: typeof Net, http: typeof Http): void {
  const proto = http.Server.prototype as Served;
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
        // What Node's http.Server.close does before its net close: idle keep-alive connections
        // end, and the request-expiry timer stops.
        this.closeIdleConnections();
        clearInterval(checkingTimer(this));
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
  // Every agent's connections, the global agent's included (an agent or request given its own
  // createConnection keeps it).
  http.Agent.prototype.createConnection = function createConnection(this: Http.Agent, ...args: unknown[]) {
    return (net.createConnection as (...a: unknown[]) => Net.Socket)(...args);
  } as typeof http.Agent.prototype.createConnection;
}
