// The node backend, loaded when a stack first needs it: importing wasinet for a simulated
// network loads no transport and patches nothing of Node's (node-common.ts hides its raw
// servers from node:net's diagnostics channels when it loads). Node 20.19+ requires an ES
// module synchronously, so the first stack is made at once, as node:net's first socket is.
import { createRequire } from 'node:module';
import type { Backend } from './backend.js';

const require = createRequire(import.meta.url);
let create: (() => Backend) | null = null;

/** A node backend on real OS sockets (libuv's handles, or the public-API fallback). */
export function createNodeBackend(): Backend {
  create ??= (require('./node.js') as typeof import('./node.js')).createNodeBackend;
  return create();
}
