// What a TLS session carried below the core is (node-tls.ts): the parts of Node's TLSSocket
// that a program reads once the handshake is over — the peer's certificate chain, the protocol,
// the cipher, the ALPN protocol, whether it was authorized — or the error that ended it. Kept as
// JSON, so that a trace holds it (a `tls` meta record) and an application replay gives a program
// the same answers (host/net/tls.ts) without a handshake.
import type { TLSSocket } from 'node:tls';

/** JSON: what `encode` makes of a value (Buffers, shared objects and null prototypes marked). */
export type Encoded = null | boolean | number | string | Encoded[] | { [key: string]: Encoded };

/** A negotiated session, as TLSSocket's getters and methods answer after 'secureConnect'. */
export interface SecureState {
  authorized: boolean;
  authorizationError: string | null;
  alpnProtocol: string | false;
  servername: Encoded;
  protocol: string | null;
  cipher: Encoded;
  ephemeral: Encoded;
  sigalgs: Encoded;
  reused: boolean;
  session: Encoded;
  ticket: Encoded;
  finished: Encoded;
  peerFinished: Encoded;
  certificate: Encoded;
  peerCertificate: Encoded;
}

/** What a session is (`secure`, `error`), or the session tickets it got since last asked (`sessions`). */
export type TlsState = { secure: SecureState } | { error: Encoded } | { sessions: Encoded[] };

/**
 * In the options a TLS socket of host/net/tls.ts gives the backend (tlsConnect): the socket
 * itself, which a live session's 'keylog' lines are passed on to (never recorded: a replay has
 * no keys).
 */
export const kSocket = Symbol('wasinet.tlsSocket');

/** The live object behind a state (the raw TLSSocket, or the error itself) when it was not read from a trace. */
export const kLive = Symbol('wasinet.tlsLive');

/**
 * JSON for `v`: a Buffer or typed array becomes `{ $b: base64 }`, an object met again `{ $ref: n }`
 * (a self-signed certificate is its own issuer), an object with no prototype gets `$np`, a
 * property set to undefined `{ $u: true }`; every object gets `$id` (its number, for the
 * references). Functions and symbols are left out.
 */
export function encode(v: unknown): Encoded {
  const seen = new Map<object, number>();
  const walk = (x: unknown): Encoded | undefined => {
    if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
    if (typeof x === 'number') return Number.isFinite(x) ? x : null;
    if (typeof x === 'bigint') return { $n: x.toString() };
    if (typeof x !== 'object') return undefined; // undefined, functions, symbols
    if (ArrayBuffer.isView(x)) return { $b: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') };
    const known = seen.get(x);
    if (known !== undefined) return { $ref: known };
    const id = seen.size;
    seen.set(x, id);
    if (Array.isArray(x)) return x.map((e) => walk(e) ?? null);
    const out: { [key: string]: Encoded } = { $id: id };
    if (Object.getPrototypeOf(x) === null) out.$np = true;
    if (x instanceof Error) {
      out.$error = x.name;
      out.message = x.message;
      if (typeof x.stack === 'string') out.$stack = x.stack;
    }
    for (const key of Object.keys(x)) {
      const v = (x as Record<string, unknown>)[key];
      // A property set to undefined is there (Node's ECONNRESET before a handshake has `path`).
      const e = v === undefined ? { $u: true } : walk(v);
      if (e !== undefined) out[key] = e;
    }
    return out;
  };
  return walk(v) ?? null;
}

/** The value `encode` made `e` from (Buffers as Buffers, the same sharing, errors as errors). */
export function decode(e: Encoded): unknown {
  const made: unknown[] = [];
  const walk = (x: Encoded): unknown => {
    if (x === null || typeof x !== 'object') return x;
    if (Array.isArray(x)) return x.map(walk);
    if (typeof x.$b === 'string') return Buffer.from(x.$b, 'base64');
    if (typeof x.$n === 'string') return BigInt(x.$n);
    if (x.$u === true) return undefined;
    if (typeof x.$ref === 'number') return made[x.$ref];
    let out: Record<string, unknown>;
    if (typeof x.$error === 'string') {
      const Ctor = (globalThis as Record<string, unknown>)[x.$error];
      const E = typeof Ctor === 'function' && (Ctor === Error || (Ctor as { prototype?: unknown }).prototype instanceof Error)
        ? Ctor as ErrorConstructor : Error;
      const err = new E(String(x.message ?? ''));
      if (typeof x.$stack === 'string') err.stack = x.$stack;
      out = err as unknown as Record<string, unknown>;
    } else {
      out = x.$np === true ? Object.create(null) as Record<string, unknown> : {};
    }
    if (typeof x.$id === 'number') made[x.$id] = out;
    for (const key of Object.keys(x)) {
      if (key === '$id' || key === '$np' || key === '$error' || key === '$stack' || (key === 'message' && x.$error !== undefined)) continue;
      out[key] = walk(x[key]);
    }
    return out;
  };
  return walk(e);
}

/** What a connected TLSSocket is, read once its 'secureConnect' came. */
export function secureStateOf(raw: TLSSocket): SecureState {
  const r = raw as TLSSocket & { getTLSTicket(): Buffer | undefined; servername?: unknown };
  return {
    authorized: r.authorized === true,
    authorizationError: r.authorizationError == null ? null : String(r.authorizationError),
    alpnProtocol: r.alpnProtocol ?? false,
    servername: encode(r.servername ?? null),
    protocol: r.getProtocol(),
    cipher: encode(r.getCipher()),
    ephemeral: encode(r.getEphemeralKeyInfo()),
    sigalgs: encode(r.getSharedSigalgs()),
    reused: r.isSessionReused(),
    session: encode(r.getSession() ?? null),
    ticket: encode(r.getTLSTicket() ?? null),
    finished: encode(r.getFinished() ?? null),
    peerFinished: encode(r.getPeerFinished() ?? null),
    certificate: encode(r.getCertificate()),
    peerCertificate: encode(r.getPeerCertificate(true)),
  };
}
