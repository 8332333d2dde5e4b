// Connecting a Socket: what host/net does between connect() and 'connect' (or the error).
//
// The core runs the attempts — which address when, the attempt timer of autoSelectFamily, the
// order of addresses (each once, families alternating) — and reports them as notifications. This
// file holds the rest, which is Node's API: validating connect()'s options with Node's errors,
// running the lookup (the socket's own `lookup` or the backend's DNS) and its 'lookup' events,
// checking what it returned, and building Node's exact errors and 'connectionAttempt*' events
// from the notifications. A Connector lives while a socket connects and holds what that needs.
import { ADDRCONFIG as DNS_ADDRCONFIG } from 'node:dns';
import type { Output } from '../core/core.js';
import { ERRNO } from '../core/abi.js';
import { splitNames } from '../core/names.js';
import type { LookupAddress } from '../backend/backend.js';
import type { Stack } from './stack.js';
import { isIP } from './ip.js';
import {
  ERR_INVALID_ARG_TYPE, ERR_INVALID_IP_ADDRESS, ERR_INVALID_ADDRESS_FAMILY, ERR_SOCKET_CONNECTION_TIMEOUT,
  exceptionWithHostPort, aggregateError,
} from './errors.js';
import { validateNumber, validateInt32, validateBoolean, validateFunction, validatePort, validateLookup } from './validate.js';
import { autoSelect } from './args.js';

// The hint net adds to a lookup of a name: the platform's AI_ADDRCONFIG, which Node's dns
// exports. Deno's node:dns exports other numbers than Node's on Linux (64 for 32) and then
// rejects them: use Linux's value there, as Node would.
const ADDRCONFIG = (globalThis as { Deno?: unknown }).Deno !== undefined && process.platform === 'linux' ? 32 : DNS_ADDRCONFIG;

/** How apiConnect is told to reach the peer (see assembly/socket.ts). */
export const TARGET_NAME = 0;
export const TARGET_IPC = 1;

/**
 * One string per distinct address: every socket of a server has the same local address, and
 * many the same remote one, so a connection's addresses cost no memory of their own.
 */
const addresses = new Map<string, string>();
export function internAddress(s: string): string {
  const known = addresses.get(s);
  if (known !== undefined) return known;
  if (addresses.size >= 1024) addresses.clear();
  addresses.set(s, s);
  return s;
}

/** What a Connector needs of its Socket (public members, and the core handle it connects). */
export interface ConnectingSocket {
  connecting: boolean;
  readonly destroyed: boolean;
  autoSelectFamilyAttemptedAddresses?: string[];
  _host: string | null;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  destroy(err?: Error): unknown;
  _getsockname(): { address?: string; port?: number };
}

export class Connector {
  /** Writes made while connecting wait for 'connect' (bytesWritten counts them meanwhile). */
  pendingData: unknown = null;
  pendingEncoding = '';
  #attemptErrors: Error[] = [];
  #lastAttemptError: Error | null = null;
  #lookup: Function | null = null;
  #dnsopts: Record<string, unknown> | null = null;
  #host = '';
  #port = 0; // connect()'s port, validated
  #multi = false; // several addresses to try (autoSelectFamily)

  constructor(readonly options: Record<string, any>, readonly ipc: boolean) {}

  /**
   * TCP: validates the options as Node does and asks the core to connect `h` — to an address
   * literal on the next tick (as Node, so listeners attached after connect() still see
   * 'connectionAttempt'), to a name through RESOLVE. `current()` is the socket's handle now.
   */
  startTcp(sock: ConnectingSocket, stack: Stack, h: number, current: () => number, again = false): void {
    const options = this.options;
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
    this.#port = portNum;

    if (autoSelectFamily != null) validateBoolean(autoSelectFamily, 'options.autoSelectFamily');
    else autoSelectFamily = autoSelect.family;
    if (autoSelectFamilyAttemptTimeout != null) {
      validateInt32(autoSelectFamilyAttemptTimeout, 'options.autoSelectFamilyAttemptTimeout', 1);
      if (autoSelectFamilyAttemptTimeout < 10) autoSelectFamilyAttemptTimeout = 10;
    } else {
      autoSelectFamilyAttemptTimeout = autoSelect.attemptTimeout;
    }

    const addressType = isIP(host);
    if (addressType) {
      process.nextTick(() => {
        if (sock.connecting && current() === h) this.#connectTo(sock, stack, h, host as string, addressType);
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
    sock._host = host as string;
    this.#lookup = options.lookup ?? null;
    this.#dnsopts = dnsopts;
    if (again) {
      // connect() to a name again while the first connect is under way: Node looks the name up
      // again and, still connecting, calls connect(2) on the handle in flight (EALREADY). The
      // core's connection stays the first connect's; this connector only looks up and fails.
      this.#lookUp(sock, stack, h, current, (found) => {
        this.#connectTo(sock, stack, h, found[0].address, found[0].family);
      });
      return;
    }
    const fam = typeof dnsopts.family === 'number' ? dnsopts.family & 15 : 0;
    const flags = fam | (all ? 16 : 0) | (((dnsopts.hints as number) | 0) << 8);
    // The core records the name as text; the lookup gets the value given (Node's dns.lookup
    // rejects a non-string host name itself, synchronously, like here).
    stack.core.apiConnect(h, TARGET_NAME, portNum, localPort | 0, String(host), localAddress || '', flags, autoSelectFamilyAttemptTimeout);
  }

  /** RESOLVE from the core: run the lookup, interpret it as Node does, report the addresses. */
  resolve(sock: ConnectingSocket, stack: Stack, o: Output, current: () => number): void {
    const h = o.h;
    this.#lookUp(sock, stack, h, current, (found, all) => {
      const r = !all ? stack.core.onResolved(h, found) : stack.core.onResolved(h, found, (tried) => {
        // Several addresses to try: Node keeps what it tried and the error of each.
        if (tried > 1) {
          this.#multi = true;
          sock.autoSelectFamilyAttemptedAddresses = [];
          this.#attemptErrors = [];
        }
      });
      // The socket connects to an address given to connect() since (the core took that in place
      // of this lookup): still connecting, Node's connect(2) to the looked-up address fails.
      if (r < 0 && sock.connecting && current() === h) this.#connectTo(sock, stack, h, found[0].address, found[0].family);
    });
  }

  /**
   * Runs the lookup of the name connect() was given, with its 'lookup' events and Node's
   * checks of what came back; `found` gets the valid addresses (at least one) while `h` is
   * still connecting. `all`: the lookup was for every address (autoSelectFamily).
   */
  #lookUp(sock: ConnectingSocket, stack: Stack, h: number, current: () => number,
    found: (addresses: { address: string; family: number }[], all: boolean) => void): void {
    const host = this.#host;
    const dnsopts = { ...this.#dnsopts };
    const lookup = this.#lookup ?? ((name: unknown, opts: any, cb: any) => {
      validateLookup(name, opts); // what dns.lookup checks, whichever backend resolves
      stack.backend.lookup(name, opts, cb);
    });
    const still = () => sock.connecting && current() === h;
    if (dnsopts.all) {
      lookup(host, dnsopts, (err: Error | null, addresses: LookupAddress[]) => this.#lookedUpAll(sock, host, err, addresses, still, found));
      return;
    }
    lookup(host, dnsopts, (err: Error | null, ip: string, addressType: number) => {
      sock.emit('lookup', err, ip, addressType, host);
      if (!still()) return;
      if (err) process.nextTick(() => sock.destroy(err));
      else if (!isIP(ip)) process.nextTick(() => sock.destroy(ERR_INVALID_IP_ADDRESS(ip)));
      else if (addressType !== 4 && addressType !== 6) {
        const e = ERR_INVALID_ADDRESS_FAMILY(addressType, this.options.host, this.options.port);
        process.nextTick(() => sock.destroy(e));
      } else found([{ address: ip, family: addressType }], false);
    });
  }

  #lookedUpAll(sock: ConnectingSocket, host: string, err: Error | null, addresses: LookupAddress[],
    still: () => boolean, found: (addresses: { address: string; family: number }[], all: boolean) => void): void {
    if (!still()) return;
    if (err) {
      sock.emit('lookup', err, undefined, undefined, host);
      process.nextTick(() => sock.destroy(err));
      return;
    }
    // Every address gets its 'lookup' event; the valid ones go to the core, which tries each
    // once, alternating the families (the first valid address's family first).
    const valid: LookupAddress[] = [];
    for (const a of addresses) {
      sock.emit('lookup', err, a.address, a.family, host);
      if (!still()) return;
      if (isIP(a.address) && (a.family === 4 || a.family === 6)) valid.push({ address: a.address, family: a.family });
    }
    if (valid.length === 0) {
      // (An empty list throws what Node's destructuring of it throws.)
      const { address, family } = addresses[0];
      if (!isIP(address)) process.nextTick(() => sock.destroy(ERR_INVALID_IP_ADDRESS(address)));
      else if (family !== 4 && family !== 6) {
        const e = ERR_INVALID_ADDRESS_FAMILY(family, this.options.host, this.options.port);
        process.nextTick(() => sock.destroy(e));
      }
      return;
    }
    found(valid, true);
  }

  /**
   * Connects `h` to an address, on a socket that is connecting: the core refuses when `h` has a
   * connect in flight already (connect() again), where Node's connect(2) on the same handle fails
   * at once with EALREADY, and the socket is destroyed with that, naming its bound local address.
   * (To a name with several addresses Node tries each, and each fails so; here the first address
   * stands for them.)
   */
  #connectTo(sock: ConnectingSocket, stack: Stack, h: number, address: string, family: number): void {
    const { localAddress, localPort } = this.options;
    const port = this.#port;
    if (stack.core.apiConnect(h, family, port, localPort | 0, address, localAddress || '', 0, 0) === 0) return;
    sock.emit('connectionAttempt', address, port, family);
    const local = sock._getsockname();
    sock.destroy(exceptionWithHostPort(ERRNO.EALREADY, 'connect', address, port,
      local.address !== undefined ? `${local.address}:${local.port}` : undefined));
  }

  // ---------------------------------------------------------------- the attempts, as events

  attempt(sock: ConnectingSocket, o: Output): void {
    // Destroyed in a listener of the failed attempt before (Node makes no attempt after that;
    // here the core's next attempt was under way with the failure's notice): nothing to tell.
    if (this.#stoppedInFailed) return;
    const address = o.data ? o.data.toString() : '';
    if (this.ipc) {
      sock.emit('connectionAttempt', address, undefined, undefined);
      return;
    }
    sock.autoSelectFamilyAttemptedAddresses?.push(`${address}:${o.a}`);
    sock.emit('connectionAttempt', address, o.a, o.b);
  }

  attemptFailed(sock: ConnectingSocket, o: Output): void {
    // `address NUL local`, the local `address:port` given only when the connect call failed
    // at once (CONNECT_AT_ONCE).
    const [address, atOnce] = splitNames(o.data);
    const { localPort } = this.options as { localPort?: number };
    // Node binds a given localPort to the family's any-address when no localAddress is given,
    // and names that in the error.
    const localAddress = (this.options as { localAddress?: string }).localAddress || (localPort ? (o.b === 6 ? '::' : '0.0.0.0') : undefined);
    const bound = localAddress && localPort ? `${localAddress}:${localPort}` : undefined;
    const details = atOnce !== '' ? atOnce : bound;
    const ex = this.ipc
      ? exceptionWithHostPort(o.c, 'connect', address)
      : exceptionWithHostPort(o.c, 'connect', address, o.a, details);
    if (atOnce === '' && bound) Object.assign(ex, { localAddress, localPort });
    this.#lastAttemptError = ex;
    this.#attemptErrors.push(ex);
    // One address (no autoSelectFamily attempts): Node's afterConnect is done connecting before
    // it reports the failure, so its listeners see connecting and pending false.
    if (!this.#multi) sock.connecting = false;
    if (this.ipc) sock.emit('connectionAttemptFailed', address, undefined, undefined, ex);
    else sock.emit('connectionAttemptFailed', address, o.a, o.b, ex);
    if (sock.destroyed) this.#stoppedInFailed = true;
  }

  /** The socket was destroyed in a listener of 'connectionAttemptFailed' (see attempt). */
  #stoppedInFailed = false;

  attemptTimeout(sock: ConnectingSocket, o: Output): void {
    const address = o.data ? o.data.toString() : '';
    const family = this.ipc ? undefined : o.b;
    sock.emit('connectionAttemptTimeout', address, o.a, family);
    this.#attemptErrors.push(exceptionWithHostPort(ERRNO.ETIMEDOUT, 'connect', address, o.a));
  }

  /** Every attempt failed: the aggregate of their errors (or a timeout with none). */
  attemptsFailed(): Error {
    const errors = this.#attemptErrors;
    return errors.length === 0 ? ERR_SOCKET_CONNECTION_TIMEOUT() : aggregateError(errors);
  }

  /** ERROR with syscall 'connect': the last attempt's error, or one built from the record. */
  connectError(o: Output): Error {
    if (this.#lastAttemptError) return this.#lastAttemptError;
    const [address, atOnce] = splitNames(o.data);
    return this.ipc
      ? exceptionWithHostPort(o.a, 'connect', address)
      : exceptionWithHostPort(o.a, 'connect', address, o.c, atOnce || undefined);
  }
}

function socketToDnsFamily(family: unknown): unknown {
  switch (family) {
    case 'IPv4': return 4;
    case 'IPv6': return 6;
  }
  return family;
}
