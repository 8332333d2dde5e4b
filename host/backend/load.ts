// The backends on real sockets, loaded when a stack first needs one: importing wasinet for a
// simulated network loads no transport and patches nothing of the runtime's (node-common.ts
// hides its raw servers from node:net's diagnostics channels when it loads). Node 20.19+, Deno
// and Bun all require an ES module synchronously, so the first stack is made at once, as
// node:net's first socket is.
//
// Which one a stack gets by default follows the runtime: Deno's own socket API on Deno
// (deno.ts), Bun's on Bun (bun.ts), libuv's handles on Node (node.ts). WASINET_BACKEND=node
// picks the node backend (over the runtime's node:net emulation) on Deno and Bun as well.
import { createRequire } from 'node:module';
import type { Backend } from './backend.js';

const require = createRequire(import.meta.url);
let create: (() => Backend) | null = null;

/** A node backend on real OS sockets (libuv's handles, or the public-API fallback). */
export function createNodeBackend(): Backend {
  create ??= (require('./node.js') as typeof import('./node.js')).createNodeBackend;
  return create();
}

/** The runtime this process is: 'deno', 'bun' or 'node'. */
export function runtime(): 'deno' | 'bun' | 'node' {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  return g.Deno !== undefined ? 'deno' : g.Bun !== undefined ? 'bun' : 'node';
}

/** A backend on the socket API of runtime `kind`. */
export function createBackendFor(kind: 'deno' | 'bun' | 'node'): Backend {
  if (kind === 'deno') return (require('./deno.js') as typeof import('./deno.js')).createDenoBackend();
  if (kind === 'bun') return (require('./bun.js') as typeof import('./bun.js')).createBunBackend();
  return createNodeBackend();
}

/** The default backend of this runtime (see the header). */
export function createRuntimeBackend(): Backend {
  const forced = typeof process !== 'undefined' ? process.env.WASINET_BACKEND : undefined;
  return createBackendFor(forced === 'node' || forced === 'public' ? 'node' : runtime());
}
