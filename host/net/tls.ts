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
// node:net. Not carried: 'session' and 'keylog' events (so an https.Agent does not resume
// sessions), renegotiation, and a tls.connect over a socket of the program's own (`socket`:
// that one stays Node's, over the given socket, whose ciphertext the core sees).
import nodeTls from 'node:tls';
import { Socket, kCarry, kHandleOf } from './socket.js';
import { kStack } from './socket.js';
import { getDefaultStack, type Stack } from './stack.js';
import { normalizeArgs } from './args.js';
import { validateNumber, validateString } from './validate.js';
import { ERR_INVALID_HANDLE_TYPE } from './errors.js';
import { decode, kLive, type SecureState, type TlsState } from '../backend/tls-state.js';
import type { Backend } from '../backend/backend.js';

type Options = Record<string, any>;

export class TLSSocket extends Socket {
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

  constructor(socketOptions: Options, tlsOptions: Options, stack: Stack) {
    super(socketOptions);
    this.#backend = stack.backend;
    this.#tlsOptions = tlsOptions;
  }

  override [kCarry] = (h: number): void => {
    this.#backend.tlsConnect!(h, this.#tlsOptions);
  };

  #ask(): TlsState | null {
    const h = this[kHandleOf]();
    return h === 0 || this.#backend.tlsState === undefined ? null : this.#backend.tlsState(h);
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const r = super.emit(event, ...args);
    // The core's CONNECT succeeds once the handshake did (or failed after TCP connected):
    // 'connect' and 'ready' are out, 'secureConnect' follows when it did.
    if (event === 'ready' && this.secureConnecting && !this.destroyed) this.#secured();
    return r;
  }

  #secured(): void {
    const s = this.#ask();
    if (s === null || !('secure' in s)) return; // the handshake failed: its error follows
    const st = s.secure;
    this.#state = st;
    this.#live = ((s as { [kLive]?: nodeTls.TLSSocket })[kLive]) ?? null;
    this.authorized = st.authorized;
    this.authorizationError = st.authorizationError;
    this.alpnProtocol = st.alpnProtocol;
    this.servername = decode(st.servername);
    this.secureConnecting = false;
    super.emit('secureConnect');
  }

  override destroy(err?: Error | null, cb?: (err: Error | null) => void): this {
    // The core's read error for a failed session (UNKNOWN, ECONNRESET …) is the session's own error.
    if (err != null && typeof (err as NodeJS.ErrnoException).syscall === 'string' && !this.destroyed) {
      const s = this.#ask();
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
}

/** wasinet's TLSSocket passes `instanceof tls.TLSSocket` checks under the register hook (register.cts). */
export function tlsSocketsAreNodeTlsSockets(tls: typeof nodeTls): void {
  const Node = tls.TLSSocket;
  Object.defineProperty(Node, Symbol.hasInstance, {
    configurable: true,
    value: function hasInstance(this: unknown, x: unknown): boolean {
      return Function.prototype[Symbol.hasInstance].call(this, x) || (this === Node && x instanceof TLSSocket);
    },
  });
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
  if (options.socket != null) return fallback(...args);
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
  const socket = new TLSSocket({ allowHalfOpen: options.allowHalfOpen, highWaterMark: options.highWaterMark, signal: options.signal, [kStack]: s }, tlsOptions, s);
  if (cb) socket.once('secureConnect', cb);
  if (options.timeout) socket.setTimeout(options.timeout);
  socket.connect(options);
  return socket;
}
