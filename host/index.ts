// wasinet: the Node.js `net` API with its socket logic in a WebAssembly sandbox.
// `import net from 'wasinet'` (or require('wasinet')) is a drop-in for `node:net` on real
// sockets; see README.md and docs/ for the architecture, the ABI and the simulator.
import { makeNet } from './net/api.js';

const net = makeNet(null);

export const {
  Socket, Stream, Server, createServer, connect, createConnection, isIP, isIPv4, isIPv6,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
  BlockList, SocketAddress,
} = net;
export { Stack, getDefaultStack } from './net/stack.js';
export type { NetApi } from './net/api.js';
export { createStack, type CreateStackOptions, type StackApi } from './net/create.js';
export { SimNetwork, type SimOptions } from './backend/sim.js';
export { replay, formatDivergence, type ReplayResult, type Divergence } from './core/trace.js';
export default net;
