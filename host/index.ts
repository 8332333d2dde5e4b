// wasinet: the Node.js `net` API with its socket logic in a WebAssembly sandbox.
// `import net from 'wasinet'` (or require('wasinet')) is a drop-in for `node:net` on real
// sockets; see README.md and docs/ for the architecture, the ABI and the simulator.
// The public types are node:net's own (see PublicNet), so code typed for node:net compiles as is.
import type * as NodeNet from 'node:net';
import { makeNet, type PublicNet, type NetApi } from './net/api.js';

const net = makeNet(null) as unknown as PublicNet;

export const Socket = net.Socket;
export type Socket = NodeNet.Socket;
export const Stream = net.Stream;
export type Stream = NodeNet.Socket;
export const Server = net.Server;
export type Server = NodeNet.Server;
export const {
  createServer, connect, createConnection, isIP, isIPv4, isIPv6,
  getDefaultAutoSelectFamily, setDefaultAutoSelectFamily,
  getDefaultAutoSelectFamilyAttemptTimeout, setDefaultAutoSelectFamilyAttemptTimeout,
  BlockList, SocketAddress,
} = net;
/** node:net's underscore helpers: argument normalisation, and a deprecated no-op (DEP0121). */
export const { _normalizeArgs, _setSimultaneousAccepts } = net as unknown as NetApi;
export type {
  AddressInfo, SocketConstructorOpts, OnReadOpts, ConnectOpts, TcpSocketConnectOpts, IpcSocketConnectOpts,
  SocketConnectOpts, SocketReadyState, ListenOptions, ServerOpts, DropArgument, TcpNetConnectOpts,
  IpcNetConnectOpts, NetConnectOpts, LookupFunction,
} from 'node:net';
export type { PublicNet } from './net/api.js';
export { createStack, type CreateStackOptions, type StackApi, type StackExtras } from './net/create.js';
export { SimNetwork, type SimOptions, type SimStats } from './backend/sim.js';
/** For those who write a backend: what a stack asks of its transport (docs/embedding.md). */
export type { Backend, LookupOptions, LookupAddress, LookupCallback } from './backend/backend.js';
export type { Core, Output } from './core/core.js';
export { replay, formatDivergence, type ReplayResult, type Divergence } from './core/trace.js';
export { TraceReader, readTrace, type TraceRecord, type InputRecord, type MetaRecord } from './trace/reader.js';
export { formatAppDivergence, ReplayDivergenceError, type ReplayOptions, type Replaying, type ReplayOutcome, type AppDivergence } from './trace/app-replay.js';
export { timelineHtml, type TimelineDivergence } from './trace/timeline.js';
export { rewriteTrace } from './trace/rewrite.js';
export type { RecordOptions, Recording } from './trace/record.js';
/** Untrusted Wasm guests with sockets, each in its own thread and stack (docs/guest.md). */
export { loadPlugin, GuestLoadError, type Plugin, type PluginOptions, type PluginLimits, type PluginExit, type PluginUsage } from './plugin/load.js';
export default net;
