// `node --import wasinet/register app.js` or `node --require wasinet/register app.js`: every
// `net` / `node:net` the process loads — the application's and its libraries' — is wasinet.
// ES modules through a resolve hook (module.register, hooks.ts), CommonJS by answering
// `require('net')` with wasinet's CommonJS module (Module._load). wasinet's own files keep the
// real node:net (its node backends sit on it). WASINET_RECORD=FILE records the default stack,
// WASINET_REPLAY=FILE replays the application on it (setup.ts). Node's http servers and agents and the global fetch
// are made to listen and connect through wasinet (http.ts); while the process records or
// replays, tls.connect's sessions run below the core (host/net/tls.ts), https.Agent's and fetch's
// included, and so do the sessions of tls, https and http2 secure servers (http.ts
// routeTlsServers), and plain http2 servers listen, and plain http2 clients connect, through
// wasinet. Not covered:
// process.getBuiltinModule('net') is node:net (see docs/replay.md for feeding such a server from
// a wasinet server).
import Module = require('node:module');
import path = require('node:path');
import url = require('node:url');
import workerThreads = require('node:worker_threads');
import type * as Setup from './setup.js';
import type * as Format from '../trace/format.js';
import type * as Http from './http.js';
import type * as Net from 'node:net';
import type * as HttpModule from 'node:http';
import type * as TlsModule from 'node:tls';
import type * as Http2Module from 'node:http2';
import type * as NetTls from '../net/tls.js';

// Loaded through NODE_OPTIONS, this file runs in every thread, wasinet's trace writer included:
// that thread records nothing and imports no net. Loaded with --require it runs in Node's module
// hooks thread too (which --import does not). Only the main thread records or replays
// (WASINET_RECORD, WASINET_REPLAY): another thread's recorder would write the same file.
const marker = (require('../trace/format.js') as typeof Format).WRITER_THREAD;
const writerThread = !workerThreads.isMainThread && (workerThreads.workerData as Record<string, unknown> | null)?.[marker] === true;
if (!writerThread) {
  const own = path.join(__dirname, '..') + path.sep;
  if (workerThreads.isMainThread) (require('./setup.js') as typeof Setup).setup();
  const wasinet: unknown = require('../index.cjs');
  const routes = require('./http.js') as typeof Http;
  // Node's own servers and sockets pass instanceof net.Server / net.Socket (http.ts). node:net
  // itself here: this file is wasinet's own, which Module._load (below) leaves alone.
  routes.nodeClassesAreNetClasses(wasinet as typeof Net, require('node:net') as typeof Net);
  // Node's http servers and agents, and the global fetch's connections, on wasinet too (http.ts), unless WASINET_HTTP=0.
  if (process.env.WASINET_HTTP !== '0') {
    routes.routeHttp(wasinet as typeof Net, require('node:http') as typeof HttpModule);
    // tls only once fetch opens an https connection (about 2 ms of every process's start).
    routes.routeFetch(wasinet as typeof Net, () => require('node:tls') as typeof TlsModule);
  }

  // tls.connect's sessions below the core when the process records or replays (or
  // WASINET_TLS=1; WASINET_TLS=0: never): the trace keeps their plaintext (host/net/tls.ts).
  const tlsWanted = process.env.WASINET_TLS === '1' ||
    (process.env.WASINET_TLS !== '0' && !!(process.env.WASINET_RECORD || process.env.WASINET_REPLAY));
  if (tlsWanted) {
    const tls = require('node:tls') as { connect: (...args: unknown[]) => unknown; TLSSocket: typeof TlsModule.TLSSocket };
    const carried = require('../net/tls.js') as typeof NetTls;
    const original = tls.connect;
    tls.connect = function connect(...args: unknown[]) { return carried.connectTls(null, original, ...args); };
    // The sessions themselves are Node's own tls.connect's (node-tls.ts).
    Object.defineProperty(tls.connect, Symbol.for('wasinet.nodeTlsConnect'), { value: original });
    carried.tlsSocketsAreNodeTlsSockets(tls as unknown as typeof TlsModule);
    // A STARTTLS server's `new tls.TLSSocket(socket, { isServer: true })` on a wasinet socket too
    // (serverTls); any other TLSSocket is Node's, as are subclasses of it.
    const NodeTLSSocket = tls.TLSSocket;
    const TLSSocket = function TLSSocket(this: unknown, socket: unknown, options?: Record<string, unknown>) {
      if (new.target === TLSSocket && options != null && options.isServer === true) {
        const made = carried.serverTls(socket, options);
        if (made !== null) return made;
      }
      return Reflect.construct(NodeTLSSocket, [socket, options], new.target === TLSSocket || new.target === undefined ? NodeTLSSocket : new.target);
    } as unknown as typeof TlsModule.TLSSocket;
    Object.setPrototypeOf(TLSSocket, NodeTLSSocket);
    Object.defineProperty(TLSSocket, 'prototype', { value: NodeTLSSocket.prototype });
    Object.defineProperty(TLSSocket, Symbol.hasInstance, { configurable: true, value: (x: unknown) => x instanceof NodeTLSSocket });
    Object.defineProperty(tls, Symbol.for('wasinet.nodeTLSSocket'), { value: NodeTLSSocket });
    tls.TLSSocket = TLSSocket;
    // tls, https and http2 secure servers too: their connections' sessions below the core.
    routes.routeTlsServers(wasinet as typeof Net, tls as unknown as typeof TlsModule, carried.acceptTls);
    // Plain http2 servers as http's (http2's secure ones are tls.Servers), and plain http2 clients.
    if (process.env.WASINET_HTTP !== '0') routes.routeHttp2(wasinet as typeof Net, require('node:http2') as typeof Http2Module);
    Module.syncBuiltinESMExports();
  }

  const M = Module as unknown as { _load(request: string, parent: { filename?: string } | null, isMain: boolean): unknown };
  const load = M._load;
  M._load = function (request, parent, isMain) {
    if ((request === 'net' || request === 'node:net') && !(parent?.filename ?? '').startsWith(own)) return wasinet;
    return load.call(this, request, parent, isMain);
  };

  Module.register(url.pathToFileURL(path.join(__dirname, 'hooks.js')).href, {
    data: { own: url.pathToFileURL(own).href, facade: url.pathToFileURL(path.join(__dirname, 'net.js')).href },
  });
}
