// Preload: require('net') / require('node:net') give ONE wasinet sim stack,
// createStack({ backend: 'sim', seed: SIM_SEED (default 1) }).
const Module = require('module');
const path = require('path');
const root = process.env.WASINET_ROOT || path.resolve(__dirname, '../..');
const wasinet = require(path.join(root, 'build/host/index.js'));
const stack = wasinet.createStack({ backend: 'sim', seed: Number(process.env.SIM_SEED || 1) });
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'net' || request === 'node:net') return stack;
  return load.apply(this, arguments);
};
