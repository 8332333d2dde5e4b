// What an import of `net` or `node:net` gives under `wasinet/register` (hooks.ts points it
// here): node:net's exports, and only those, on wasinet's default stack. (wasinet's extras —
// createStack, replay … — are the `wasinet` package's, not net's.)
export {
  _createServerHandle, _normalizeArgs, _setSimultaneousAccepts, BlockList, SocketAddress,
  connect, createConnection, createServer, isIP, isIPv4, isIPv6, Server, Socket, Stream,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
  default,
} from '../index.js';
