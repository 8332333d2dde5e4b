// Preload (NODE_OPTIONS=--require): require('net') / require('node:net') give wasinet's default
// export (real sockets). WASINET_ROOT points at a checkout with a build (default: this one).
const Module = require('module');
const path = require('path');
const root = process.env.WASINET_ROOT || path.resolve(__dirname, '../..');
const wasinet = require(path.join(root, 'build/host/index.js'));
const net = wasinet.default ?? wasinet;
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'net' || request === 'node:net') return net;
  return load.apply(this, arguments);
};
