// The backends on real sockets, loaded when a stack first needs one: importing wasinet for a
// simulated network loads no transport and patches nothing of the runtime's (node-common.ts
// hides its raw servers from node:net's diagnostics channels when it loads). Node 20.19+, Deno
// and Bun all require an ES module synchronously, so the first stack is made at once, as
// node:net's first socket is.
//
// Which one a stack gets by default follows the runtime: Deno's own socket API on Deno
// (deno.ts), Bun's on Bun (bun.ts), Cloudflare's connect() in workerd (workerd.ts), libuv's
// handles on Node (node.ts). WASINET_BACKEND=node picks the node backend (over the runtime's
// node:net emulation) on Deno and Bun as well.
//
// workerd runs a bundle, where there is no module URL to require from: its entry point
// (host/workerd.ts) imports the workerd backend itself and hands it over with `provideBackend`.
import type { Backend } from './backend.js';
import { lazy } from '../lazy.js';

export type RuntimeKind = 'deno' | 'bun' | 'workerd' | 'node';

let create: (() => Backend) | null = null;
const provided = new Map<RuntimeKind, () => Backend>();

/** Makes `factory` the backend of runtime `kind` (an entry point that bundles its backend). */
export function provideBackend(kind: RuntimeKind, factory: () => Backend): void {
  provided.set(kind, factory);
}

/** A node backend on real OS sockets (libuv's handles, or the public-API fallback). */
export function createNodeBackend(): Backend {
  create ??= provided.get('node') ?? lazy('./backend/node.js').createNodeBackend;
  return create();
}

/** The runtime this process is: 'deno', 'bun', 'workerd' or 'node'. */
export function runtime(): RuntimeKind {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; navigator?: { userAgent?: string } };
  if (g.Deno !== undefined) return 'deno';
  if (g.Bun !== undefined) return 'bun';
  return g.navigator?.userAgent === 'Cloudflare-Workers' ? 'workerd' : 'node';
}

/** A backend on the socket API of runtime `kind`. */
export function createBackendFor(kind: RuntimeKind): Backend {
  const factory = provided.get(kind);
  if (factory) return factory();
  if (kind === 'deno') return lazy('./backend/deno.js').createDenoBackend();
  if (kind === 'bun') return lazy('./backend/bun.js').createBunBackend();
  if (kind === 'workerd') return lazy('./backend/workerd.js').createWorkerdBackend();
  return createNodeBackend();
}

/** The default backend of this runtime (see the header). */
export function createRuntimeBackend(): Backend {
  const forced = typeof process !== 'undefined' ? process.env.WASINET_BACKEND : undefined;
  return createBackendFor(forced === 'node' || forced === 'public' ? 'node' : runtime());
}
