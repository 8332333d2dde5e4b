// The package's CommonJS entry: `require('wasinet')` gives what `require('net')` gives — one
// plain, mutable object (test doubles replace `net.connect` on it) — rather than the ES module
// namespace, which is read-only. It is the very object the ES module's default export is;
// wasinet's extras (createStack, replay, SimNetwork …) sit on it too, not enumerable, so that its
// keys are node:net's.
import type * as Wasinet from './index.js';

// Node 20.19+ requires an ES module synchronously.
const esm = require('./index.js') as typeof Wasinet;
const net = esm.default as typeof esm.default & Omit<typeof Wasinet, 'default'>;
for (const [key, value] of Object.entries(esm)) {
  // Not `__esModule` (Node marks a required ES module so): node:net's object has none, and
  // transpiled `import net from 'net'` (__importDefault) must wrap this one as it wraps node's.
  if (key === 'default' || key === '__esModule' || key in net) continue;
  Object.defineProperty(net, key, { value, enumerable: false, writable: true, configurable: true });
}

export = net;
