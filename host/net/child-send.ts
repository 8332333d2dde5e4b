// child_process's and cluster's `send(message, handle)` with a wasinet socket or server as the
// handle. Node's send takes only its own classes (`handle instanceof net.Socket`, of its internal
// net) and threw ERR_INVALID_HANDLE_TYPE for wasinet's. So every IPC channel's send is wrapped as
// it is made — an accessor on ChildProcess.prototype takes the assignment Node's setupChannel
// makes, and a child's own `process.send` is wrapped at load — and a wasinet handle reaches
// Node's send as the node:net object it would have been, over the transport's own OS handle:
//
// - a server: its listening handle. The server goes on listening here too, as on node:net; the
//   other process gets a node:net Server on it (Node makes it there).
// - a connection: its handle, which this process then lets go of as node:net does (the socket's
//   `_handle` is null, writes fail with ERR_SOCKET_CLOSED, and it emits 'close' only if it is
//   destroyed). Writes of this turn that wait in the core are handed to the transport first.
//   With `keepOpen` both processes keep the connection.
//
// A connection that comes in this way is wasinet's (when this process loaded wasinet): Node
// makes a node:net Socket for it, which gives its handle over to a wasinet Socket before it read.
// (A server that comes in stays Node's node:net Server.)
//
// A server's accepted socket is counted in the other process, as Node does: the server's
// getConnections() asks there, and its close() waits for them to be closed there (server.ts,
// _setupWorker). The wrapper changes nothing for any other handle.

import type * as NodeNetModule from 'node:net';
import type { SendCarrier } from '../backend/backend.js';

/** A wasinet Socket's or Server's: what send() is to send for it (socket.ts, server.ts). */
export const kSendHandle = Symbol.for('wasinet.sendHandle');
/** A Server's: one of its sockets that was sent away was destroyed here afterwards. */
export const kSentDestroyed = Symbol('wasinet.sentDestroyed');

// What a socket or server gives send() (null in its place: nothing to send, send refuses it).
export type { SendCarrier };

type Sendable = { [kSendHandle](keepOpen: boolean): SendCarrier | null };
type NodeNet = typeof NodeNetModule;
type NodeSocket = NodeNetModule.Socket & { _handle: { readStop(): number; reading?: boolean } | null };

const kWrapped = Symbol.for('wasinet.sendWrapped');

/**
 * Wraps the send of every IPC channel made from now on, and this process's own (once per
 * process); and a connection that comes in on one (a 'message' with a socket Node made) becomes
 * a socket of `adopt`'s (wasinet's, so that its bytes go through the core here too).
 */
export function sendWasinetHandles(nodeNet: NodeNet, ChildProcess: { prototype: object }, adopt: (handle: object) => object): void {
  const proto = ChildProcess.prototype as Record<PropertyKey, unknown>;
  const received = receiver(nodeNet, adopt);
  if (!Object.prototype.hasOwnProperty.call(proto, kWrapped)) {
    Object.defineProperty(proto, kWrapped, { value: true });
    Object.defineProperty(proto, 'send', {
      configurable: true,
      get(): undefined { return undefined; },
      set(this: { emit: Function }, fn: unknown) {
        Object.defineProperty(this, 'send', {
          configurable: true, enumerable: true, writable: true,
          value: typeof fn === 'function' ? wrap(fn, nodeNet) : fn,
        });
        // Node's setupChannel assigns send once the channel is there: its messages come through emit.
        this.emit = receiving(this.emit, received);
      },
    });
  }
  const own = process as unknown as { send?: Function & { [kWrapped]?: boolean }; emit: Function & { [kWrapped]?: boolean } };
  if (typeof own.send === 'function' && own.send[kWrapped] !== true) {
    own.send = wrap(own.send, nodeNet);
    if (own.emit[kWrapped] !== true) own.emit = receiving(own.emit, received);
  }
}

/**
 * The socket a 'message' gives: where Node made a node:net Socket over a connection sent from
 * another process, one of `adopt`'s on the same OS handle. The node:net one lets go of the handle
 * before it read anything (Node emits the message in a tick of its own, before any read), and is
 * destroyed when ours closes: Node's list of the sockets a server sent here counts it until then
 * (the sending process's getConnections() and close() ask that list).
 */
function receiver(nodeNet: NodeNet, adopt: (handle: object) => object): (thing: unknown) => unknown {
  return (thing) => {
    if (!(thing instanceof nodeNet.Socket)) return thing;
    const node = thing as unknown as NodeSocket;
    const handle = node._handle;
    const made: unknown = node.constructor; // Node's own got() made it (not a subclass: wasinet's or a library's)
    if (handle === null || typeof handle.readStop !== 'function' || made !== nodeNet.Socket) return thing;
    handle.readStop();
    handle.reading = false;
    node._handle = null;
    const ours = adopt(handle) as NodeSocket;
    ours.once('close', () => node.destroy());
    return ours;
  };
}

function receiving(emit: Function, received: (thing: unknown) => unknown): Function & { [kWrapped]: boolean } {
  const wrapped = function emitWithSockets(this: unknown, event: unknown, message?: unknown, thing?: unknown): unknown {
    if (event === 'message' && thing !== undefined && thing !== null && arguments.length === 3) {
      return Reflect.apply(emit, this, [event, message, received(thing)]);
    }
    return Reflect.apply(emit, this, arguments);
  } as unknown as Function & { [kWrapped]: boolean };
  wrapped[kWrapped] = true;
  return wrapped;
}

function wrap(original: Function, nodeNet: NodeNet): Function & { [kWrapped]: boolean } {
  const send = function send(this: { connected?: boolean }, message: unknown, handle?: unknown, options?: unknown): unknown {
    const args = Array.prototype.slice.call(arguments);
    if (handle !== null && typeof handle === 'object' && typeof (handle as Partial<Sendable>)[kSendHandle] === 'function' &&
      this.connected === true && sendable(message, options)) {
      const keepOpen = options !== null && typeof options === 'object' && !!(options as { keepOpen?: unknown }).keepOpen;
      const carrier = (handle as Sendable)[kSendHandle](keepOpen);
      if (carrier !== null) {
        args[1] = asNodeObject(handle, carrier, nodeNet);
        if (carrier.socket !== undefined) freeHttp(handle);
      }
    }
    return Reflect.apply(original, this, args);
  } as unknown as Function & { [kWrapped]: boolean };
  send[kWrapped] = true;
  return send;
}

/**
 * Whether Node's send gets as far as the handle with these arguments (it throws for a missing or
 * unserializable message and for options that are not an object before it looks at the handle):
 * a socket is let go of only for a send that happens.
 */
function sendable(message: unknown, options: unknown): boolean {
  const m = typeof message;
  if (message === undefined || (m !== 'string' && m !== 'object' && m !== 'number' && m !== 'boolean')) return false;
  return options === undefined || typeof options === 'function' || (options !== null && typeof options === 'object' && !Array.isArray(options));
}

/**
 * What Node's send does besides to a socket it lets go of that an http server read from: the
 * request parser goes back to its pool and the response lets go of the socket.
 */
function freeHttp(socket: object): void {
  const s = socket as { parser?: unknown; _httpMessage?: { detachSocket(socket: object): void } | null };
  if (s.parser == null) return;
  const common = (process as unknown as { getBuiltinModule(id: string): HttpCommon }).getBuiltinModule('_http_common');
  if (!(s.parser instanceof common.HTTPParser)) return;
  common.freeParser(s.parser, null, socket);
  s._httpMessage?.detachSocket(socket);
}

interface HttpCommon {
  HTTPParser: new (...args: never[]) => object;
  freeParser(parser: unknown, req: unknown, socket: object): void;
}

/** The node:net object Node's send() looks for, standing for `handle`. */
function asNodeObject(handle: object, carrier: SendCarrier, nodeNet: NodeNet): object {
  // An accepted socket's server: Node's send has it count the socket in the other process
  // (server._setupWorker, server.ts).
  const server = (handle as { server?: unknown }).server;
  if (carrier.socket !== undefined) {
    if (server != null) (carrier.socket as { server?: unknown }).server = server;
    return carrier.socket;
  }
  const isServer = typeof (handle as { listen?: unknown }).listen === 'function';
  const proto = (isServer ? nodeNet.Server : nodeNet.Socket).prototype;
  // What Node's send reads: `_handle`, and a socket's `server` (with keepOpen it changes nothing).
  return Object.create(proto, {
    _handle: { value: carrier.handle, writable: true, configurable: true, enumerable: true },
    server: { value: isServer ? undefined : server ?? null, writable: true, configurable: true, enumerable: true },
    setTimeout: { value(this: object) { return this; }, configurable: true },
  });
}
