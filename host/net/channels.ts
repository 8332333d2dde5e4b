// node:net's diagnostics channels, published by wasinet's own objects as node:net publishes
// them (Node 20): 'net.client.socket' from net.connect(), 'net.server.socket' after a server's
// 'connection' (its listeners have run), and the 'net.server.listen' tracing channel
// (asyncStart when listen() is called, asyncEnd once the listener is bound, error when binding
// fails). The node backend keeps its
// raw transport objects off these channels (see hideRawTransport in backend/node.ts).
import dc from 'node:diagnostics_channel';

export const clientSocketChannel = dc.channel('net.client.socket');
export const serverSocketChannel = dc.channel('net.server.socket');
export const listenChannel = dc.tracingChannel('net.server.listen');
