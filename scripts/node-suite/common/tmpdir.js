'use strict';
const fs = require('fs'); const path = require('path');
const tmpPath = path.join(require('os').tmpdir(), `.ns-tmp.${process.pid}`);
function refresh() { fs.rmSync(tmpPath, { recursive: true, force: true }); fs.mkdirSync(tmpPath, { recursive: true }); process.on('exit', () => { try { fs.rmSync(tmpPath, { recursive: true, force: true }); } catch {} }); }
module.exports = { path: tmpPath, refresh, resolve: (...p) => path.resolve(tmpPath, ...p), hasEnoughSpace: () => true, fileURL: (...p) => require('url').pathToFileURL(path.resolve(tmpPath, ...p)) };
