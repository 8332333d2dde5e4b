// The simulated network's address registry: who listens where (ports and IPC paths), which local
// ports connections hold, the ephemeral port range, and host names. The rules are Linux's: which
// bindings of one port clash, which listener a connection to an address reaches (wildcards,
// dual-stack '::', ipv6Only).
import { ERRNO } from '../../core/abi.js';
import type { SimBackend } from './backend.js';

export interface Listener { backend: SimBackend; h: number; address: string; port: number; family: number; path: string | null; v6only: boolean }

export function familyOf(address: string): number {
  return address.includes(':') ? 6 : 4;
}

export function isAny(address: string): boolean {
  return address === '' || address === '::' || address === '0.0.0.0';
}

/**
 * Whether two bindings of one port clash, as on Linux: one address family apart never clash,
 * except with a dual-stack '::' (not ipv6Only); within a family, the same address or a wildcard.
 */
function overlap(a: string, aV6only: boolean, b: string, bV6only: boolean): boolean {
  if (a === '') a = '::';
  if (b === '') b = '::';
  if (a === b) return true;
  if (familyOf(a) === familyOf(b)) return isAny(a) || isAny(b);
  return (a === '::' && !aV6only) || (b === '::' && !bV6only);
}

export class Addresses {
  #listeners: Listener[] = [];
  #nextPort = 49152;
  readonly #names: { readonly hosts: Record<string, string[]> };

  /** `names.hosts`: host name -> addresses (read at each lookup). */
  constructor(names: { readonly hosts: Record<string, string[]> }) {
    this.#names = names;
  }

  /** Local ports of connections (a listener on one, or a bind to one, is refused). */
  readonly bound = new Set<number>();

  ephemeralPort(): number {
    let p: number;
    do {
      p = this.#nextPort++;
      if (this.#nextPort > 65535) this.#nextPort = 49152;
    } while (this.bound.has(p) || this.#listeners.some((x) => x.path === null && x.port === p));
    return p;
  }

  /** Whether binding (address, port) would clash with a listener or a connection's local port. */
  portInUse(address: string, port: number): boolean {
    return this.bound.has(port) || this.#listeners.some((x) => x.path === null && x.port === port &&
      overlap(x.address, x.v6only, address, false));
  }

  /** Registers a listener (port 0 gets an ephemeral port): 0, or EADDRINUSE. */
  listen(l: Listener): number {
    if (l.path !== null) {
      if (this.#listeners.some((x) => x.path === l.path)) return ERRNO.EADDRINUSE;
    } else {
      if (l.port === 0) {
        do l.port = this.ephemeralPort(); while (this.#listeners.some((x) => x.path === null && x.port === l.port));
      }
      // A connection's local port is taken too (Node's listen refuses it, as Linux does).
      const clash = this.bound.has(l.port) || this.#listeners.some((x) => x.path === null && x.port === l.port &&
        overlap(x.address, x.v6only, l.address, l.v6only));
      if (clash) return ERRNO.EADDRINUSE;
    }
    this.#listeners.push(l);
    return 0;
  }

  unlisten(backend: SimBackend, h: number): void {
    this.#listeners = this.#listeners.filter((x) => !(x.backend === backend && x.h === h));
  }

  /** The listener a connection to (address, port) or to a path reaches. */
  find(address: string, port: number, path: string | null): Listener | undefined {
    if (path !== null) return this.#listeners.find((x) => x.path === path);
    const fam = familyOf(address);
    return this.#listeners.find((x) => x.path === null && x.port === port &&
      (x.address === address || (x.address === '0.0.0.0' && fam === 4) || x.address === '' ||
        (x.address === '::' && (fam === 6 || !x.v6only))));
  }

  lookup(host: string, family: number): { address: string; family: number }[] | null {
    const list = this.#names.hosts[host.toLowerCase()];
    if (!list) return null;
    const out = list.map((address) => ({ address, family: familyOf(address) }));
    return family === 4 || family === 6 ? out.filter((a) => a.family === family) : out;
  }
}
