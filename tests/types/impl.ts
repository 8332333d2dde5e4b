// The package's public types are node:net's own (host/index.ts casts its objects to them). This
// file checks that the casts are true: the implementation's classes and functions, as they are,
// are assignable to node:net's declarations.
import type * as NodeNet from 'node:net';
import { Socket } from '../../host/net/socket.js';
import { Server } from '../../host/net/server.js';
import { makeNet } from '../../host/net/api.js';

const net = makeNet(null);

export const socket: NodeNet.Socket = new Socket();
export const server: NodeNet.Server = new Server();
export const createServer: typeof NodeNet.createServer = net.createServer;
export const connect: typeof NodeNet.connect = net.connect;
export const createConnection: typeof NodeNet.createConnection = net.createConnection;
export const isIP: typeof NodeNet.isIP = net.isIP;
export const isIPv4: typeof NodeNet.isIPv4 = net.isIPv4;
export const isIPv6: typeof NodeNet.isIPv6 = net.isIPv6;
export const getDefaultAutoSelectFamily: typeof NodeNet.getDefaultAutoSelectFamily = net.getDefaultAutoSelectFamily;
export const getDefaultAutoSelectFamilyAttemptTimeout: typeof NodeNet.getDefaultAutoSelectFamilyAttemptTimeout = net.getDefaultAutoSelectFamilyAttemptTimeout;
export const setDefaultAutoSelectFamilyAttemptTimeout: typeof NodeNet.setDefaultAutoSelectFamilyAttemptTimeout = net.setDefaultAutoSelectFamilyAttemptTimeout;
export const BlockList: typeof NodeNet.BlockList = net.BlockList;
export const SocketAddress: typeof NodeNet.SocketAddress = net.SocketAddress;
