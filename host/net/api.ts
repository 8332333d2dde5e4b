// The `net` module's surface, for one stack: what `import net from 'wasinet'` gives (on the
// default stack) and what createStack() gives (on its own stack).
import { Socket, kStack } from './socket.js';
import { Server } from './server.js';
import { constructOn } from './adopt.js';
import { normalizeArgs, getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout } from './args.js';
import { clientSocketChannel } from './channels.js';
import { isIP, isIPv4, isIPv6 } from './ip.js';
import type * as NodeNetModule from 'node:net';
import { sendWasinetHandles } from './child-send.js';
import { runtime } from '../backend/load.js';

// net's address utilities carry no socket logic: wasinet offers node:net's own classes.
const nodeNet = (process as unknown as { getBuiltinModule(id: string): typeof NodeNetModule }).getBuiltinModule('node:net');
const { BlockList, SocketAddress } = nodeNet;
/**
 * node:net's own: makes a bound OS handle (TCP or pipe) for cluster's workers, which a server
 * then listens on (`server.listen(handle)`, which wasinet's Server accepts as node:net's does).
 */
const _createServerHandle = (nodeNet as unknown as { _createServerHandle?: (...args: unknown[]) => unknown })._createServerHandle;
// child_process's and cluster's send() take wasinet's sockets and servers as handles (child-send.ts).
if (runtime() === 'node') {
  sendWasinetHandles(nodeNet, (process as unknown as { getBuiltinModule(id: string): { ChildProcess: { prototype: object } } }).getBuiltinModule('node:child_process').ChildProcess,
    (handle) => new Socket({ handle, readable: true, writable: true } as never));
}
import type { Stack } from './stack.js';
import type * as NodeNet from 'node:net';

/**
 * What users see: node:net's own type declarations. wasinet's classes implement them (they are
 * checked against node:net by the differential tests), so code typed for node:net compiles
 * unchanged against wasinet.
 */
export type PublicNet = Pick<typeof NodeNet, 'Socket' | 'Server' | 'createServer' | 'connect' |
  'createConnection' | 'isIP' | 'isIPv4' | 'isIPv6' | 'getDefaultAutoSelectFamily' |
  'getDefaultAutoSelectFamilyAttemptTimeout' | 'setDefaultAutoSelectFamilyAttemptTimeout' | 'BlockList' |
  'SocketAddress'> & { setDefaultAutoSelectFamily(value: boolean): void; Stream: typeof NodeNet.Socket };

export interface NetApi {
  Socket: typeof Socket;
  Stream: typeof Socket;
  Server: typeof Server;
  createServer: (options?: any, connectionListener?: (socket: Socket) => void) => Server;
  connect: (...args: any[]) => Socket;
  createConnection: (...args: any[]) => Socket;
  isIP: typeof isIP;
  isIPv4: typeof isIPv4;
  isIPv6: typeof isIPv6;
  getDefaultAutoSelectFamily: typeof getDefaultAutoSelectFamily;
  setDefaultAutoSelectFamily: typeof setDefaultAutoSelectFamily;
  getDefaultAutoSelectFamilyAttemptTimeout: typeof getDefaultAutoSelectFamilyAttemptTimeout;
  setDefaultAutoSelectFamilyAttemptTimeout: typeof setDefaultAutoSelectFamilyAttemptTimeout;
  BlockList: typeof BlockList;
  SocketAddress: typeof SocketAddress;
  _createServerHandle: ((...args: unknown[]) => unknown) | undefined;
  _normalizeArgs: typeof normalizeArgs;
  _setSimultaneousAccepts: (handle?: unknown) => void;
}

let simultaneousAcceptsWarned = false;
/** Node keeps this for Windows' libuv; elsewhere it only warns (DEP0121), once a process. */
function _setSimultaneousAccepts(): void {
  if (simultaneousAcceptsWarned) return;
  simultaneousAcceptsWarned = true;
  process.emitWarning('net._setSimultaneousAccepts() is deprecated and will be removed.', 'DeprecationWarning', 'DEP0121');
}

/**
 * Node's Socket and Server are functions that construct when called without `new`
 * (`net.Socket()`, `net.Server()`); wasinet's are classes. The exported ones are plain
 * functions of the same name that construct the class (with `new.target`, so `extends` works)
 * and share its prototype and statics; the prototype's `constructor` is the exported function,
 * as in Node, so stack traces and inspection name instances as Node does.
 */
function callable<T extends new (...args: any[]) => object>(Class: T, name: 'Socket' | 'Server'): T {
  // Named function expressions: V8 names instances in stack traces after them.
  // Called or `new`ed itself, it constructs the class directly (Reflect.construct with this
  // function as new.target builds every instance on a slow path: ten times the cost of a
  // socket); a subclass of it passes its own new.target on.
  // Called on an instance of a subclass made the pre-class way (`net.Socket.call(this)` in a
  // constructor set up with util.inherits), it initializes that instance, as Node's does.
  const fn = name === 'Socket'
    ? function Socket(this: unknown, ...args: unknown[]) {
      if (new.target === undefined && this instanceof Socket) return constructOn(this, Class, args);
      return new.target === undefined || new.target === Socket ? new Class(...args) : Reflect.construct(Class, args, new.target);
    }
    : function Server(this: unknown, ...args: unknown[]) {
      if (new.target === undefined && this instanceof Server) return constructOn(this, Class, args);
      return new.target === undefined || new.target === Server ? new Class(...args) : Reflect.construct(Class, args, new.target);
    };
  // Node's arity: Socket(options), Server(options, connectionListener).
  Object.defineProperty(fn, 'length', { value: name === 'Socket' ? 1 : 2 });
  Object.defineProperty(fn, 'prototype', { value: Class.prototype, writable: false });
  Object.setPrototypeOf(fn, Class);
  Object.defineProperty(Class.prototype, 'constructor', { value: fn, writable: true, configurable: true, enumerable: false });
  return fn as unknown as T;
}

/** The net API over `stack`; null means the default stack, with the base classes themselves. */
export function makeNet(stack: Stack | null): NetApi {
  let S = Socket;
  let V = Server;
  if (stack !== null) {
    const BaseSocket: any = Socket;
    const BaseServer: any = Server;
    S = class Socket extends BaseSocket {} as typeof Socket;
    V = class Server extends BaseServer {} as typeof Server;
    (S as any)[kStack] = stack;
    (V as any)[kStack] = stack;
  }

  S = callable(S, 'Socket');
  V = callable(V, 'Server');
  if (stack !== null) (stack as unknown as { Socket: typeof Socket }).Socket = S;

  function createServer(options?: any, connectionListener?: (socket: Socket) => void): Server {
    return new V(options, connectionListener);
  }

  function connect(...args: any[]): Socket {
    const normalized = normalizeArgs(args);
    const options = normalized[0];
    const socket = new S(options);
    if (clientSocketChannel.hasSubscribers) clientSocketChannel.publish({ socket });
    if (options.timeout) socket.setTimeout(options.timeout);
    return socket.connect(normalized);
  }

  // node:net's keys, in its order.
  return {
    _createServerHandle, _normalizeArgs: normalizeArgs, _setSimultaneousAccepts,
    BlockList, SocketAddress,
    connect, createConnection: connect, createServer,
    isIP, isIPv4, isIPv6,
    Server: V, Socket: S, Stream: S,
    getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
    getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
  };
}
