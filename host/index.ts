// wasinet: the Node.js `net` API with its socket logic in a WebAssembly sandbox.
// `import net from 'wasinet'` (or require('wasinet')) is a drop-in for `node:net` on real
// sockets; see README.md and docs/ for the architecture, the ABI and the simulator.
// The public types are node:net's own (see PublicNet), so code typed for node:net compiles as is.
import type * as NodeNet from 'node:net';
import { makeNet, type PublicNet, type NetApi } from './net/api.js';
import { lazy } from './lazy.js';
import type * as Timeline from './trace/timeline.js';
import type * as CoreTrace from './core/trace.js';
import type * as Rewrite from './trace/rewrite.js';
import type * as PluginLoad from './plugin/load.js';

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
/**
 * node:net's underscore helpers: cluster's bound-handle maker (node:net's own), argument
 * normalisation, and a deprecated no-op (DEP0121).
 */
export const { _createServerHandle, _normalizeArgs, _setSimultaneousAccepts } = net as unknown as NetApi;
export type {
  AddressInfo, SocketConstructorOpts, OnReadOpts, ConnectOpts, TcpSocketConnectOpts, IpcSocketConnectOpts,
  SocketConnectOpts, SocketReadyState, ListenOptions, ServerOpts, DropArgument, TcpNetConnectOpts,
  IpcNetConnectOpts, NetConnectOpts, LookupFunction,
} from 'node:net';
export type { PublicNet } from './net/api.js';
export { createStack, type CreateStackOptions, type StackApi, type StackExtras } from './net/create.js';
export { SimNetwork, type SimOptions, type SimStats } from './backend/sim/network.js';
/** For those who write a backend: what a stack asks of its transport (docs/embedding.md). */
export type { Backend, LookupOptions, LookupAddress, LookupCallback } from './backend/backend.js';
export type { Core, Output } from './core/core.js';
export type { ReplayResult, Divergence } from './core/trace.js';
export { TraceReader, readTrace, type TraceRecord, type InputRecord, type MetaRecord } from './trace/reader.js';
export { formatAppDivergence, ReplayDivergenceError, type AppDivergence } from './trace/divergence.js';
export type { ReplayOptions, Replaying, ReplayOutcome } from './trace/app-replay.js';
export type { TimelineDivergence } from './trace/timeline.js';
export type { RecordOptions, Recording } from './trace/record.js';
/** Untrusted Wasm guests with sockets, each in its own thread and stack (docs/guest.md). */
export { GuestLoadError } from './plugin/module.js';
export type { Plugin, PluginOptions, PluginLimits, PluginExit, PluginUsage } from './plugin/load.js';

// Loaded on first use (lazy.ts): these functions are the modules' own, called through.
/** Replays a trace on a fresh core with no network and checks every answer (docs/replay.md). */
export const replay: typeof CoreTrace.replay = (...args) => lazy('./core/trace.js').replay(...args);
/** The text of a replay's divergence. */
export const formatDivergence: typeof CoreTrace.formatDivergence = (...args) => lazy('./core/trace.js').formatDivergence(...args);
/** A self-contained HTML page showing a trace (format 2) as a timeline. */
export const timelineHtml: typeof Timeline.timelineHtml = (...args) => lazy('./trace/timeline.js').timelineHtml(...args);
/** Copies a trace record by record, through `edit` (to cut or change it, or to recompress it). */
export const rewriteTrace: typeof Rewrite.rewriteTrace = (...args) => lazy('./trace/rewrite.js').rewriteTrace(...args);
/** Runs an untrusted Wasm guest in its own thread and stack (docs/guest.md). */
export const loadPlugin: typeof PluginLoad.loadPlugin = (...args) => lazy('./plugin/load.js').loadPlugin(...args);
export default net;
