'use strict';
// Minimal stand-in for Node's test/common, written for wasinet's local checks.
const assert = require('assert');
const os = require('os');
const path = require('path');
const util = require('util');
const mustCallChecks = [];
function runCallChecks(exitCode) {
  if (exitCode !== 0) return;
  const failed = mustCallChecks.filter((c) => {
    if ('minimum' in c) return c.actual < c.minimum;
    return c.actual !== c.exact;
  });
  for (const c of failed) {
    console.log('Mismatched %s function calls. Expected %s, actual %d.\n%s', c.name,
      'minimum' in c ? `at least ${c.minimum}` : `exactly ${c.exact}`, c.actual, c.stack.split('\n').slice(2, 4).join('\n'));
  }
  if (failed.length) process.exit(1);
}
function _mustCallInner(fn, criteria = 1, field) {
  if (typeof fn === 'number') { criteria = fn; fn = () => {}; }
  else if (fn === undefined) fn = () => {};
  if (mustCallChecks.length === 0) process.on('exit', runCallChecks);
  const ctx = { [field]: criteria, actual: 0, stack: new Error().stack, name: fn.name || '<anonymous>' };
  mustCallChecks.push(ctx);
  const wrapped = function (...args) { ctx.actual++; return fn.apply(this, args); };
  Object.defineProperty(wrapped, 'length', { value: fn.length });
  return wrapped;
}
function mustCall(fn, exact) { return _mustCallInner(fn, exact, 'exact'); }
function mustCallAtLeast(fn, minimum) { return _mustCallInner(fn, minimum, 'minimum'); }
function mustSucceed(fn, exact) {
  return mustCall(function (err, ...args) { assert.ifError(err); if (typeof fn === 'function') return fn.apply(this, args); }, exact);
}
function mustNotCall(msg) {
  const stack = new Error().stack;
  return function mustNotCall(...args) {
    const argsInfo = args.length > 0 ? `\ncalled with arguments: ${args.map((a) => util.inspect(a)).join(', ')}` : '';
    assert.fail(`${msg || 'function should not have been called'} at ${stack.split('\n')[2]}${argsInfo}`);
  };
}
function expectsError(validator, exact) {
  return mustCall((...args) => {
    if (args.length !== 1) assert.fail(`Expected one argument, got ${util.inspect(args)}`);
    const error = args[0];
    assert.throws(() => { throw error; }, validator);
    return true;
  }, exact);
}
function invalidArgTypeHelper(input) {
  if (input == null) return ` Received ${input}`;
  if (typeof input === 'function') return ` Received function ${input.name}`;
  if (typeof input === 'object') {
    if (input.constructor?.name) return ` Received an instance of ${input.constructor.name}`;
    return ` Received ${util.inspect(input, { depth: -1 })}`;
  }
  let inspected = util.inspect(input, { colors: false });
  if (inspected.length > 28) inspected = `${inspected.slice(0, 25)}...`;
  return ` Received type ${typeof input} (${inspected})`;
}
function platformTimeout(ms) { return ms; }
function skip(msg) { console.log(`1..0 # Skipped: ${msg}`); process.exit(0); }
function printSkipMessage(msg) { console.log(`1..0 # Skipped: ${msg}`); }
const hasIPv6 = Object.values(os.networkInterfaces()).some((l) => l.some((i) => i.family === 'IPv6' && i.internal));
let warningsExpected;
function expectWarning(nameOrMap, expected, code) {
  if (typeof nameOrMap === 'string') nameOrMap = { [nameOrMap]: code ? [[expected, code]] : (Array.isArray(expected) ? expected : [expected]) };
  if (!warningsExpected) {
    warningsExpected = {};
    process.on('warning', mustCall((w) => {
      const list = warningsExpected[w.name];
      assert.ok(list, `unexpected warning ${w.name}: ${w.message}`);
      const next = list.shift();
      assert.ok(next, `extra warning ${w.message}`);
      const [msg, c] = Array.isArray(next) ? next : [next];
      if (msg instanceof RegExp) assert.match(w.message, msg); else assert.strictEqual(w.message, msg);
      if (c !== undefined) assert.strictEqual(w.code, c);
    }, Object.values(nameOrMap).reduce((n, l) => n + l.length, 0)));
  }
  for (const [k, v] of Object.entries(nameOrMap)) warningsExpected[k] = (Array.isArray(v) ? v : [v]).map((x) => (Array.isArray(x) ? x : typeof x === 'object' && !(x instanceof RegExp) ? [x.message, x.code] : [x]));
}
function getArrayBufferViews(buf) {
  const { buffer, byteOffset, byteLength } = buf;
  const out = [];
  for (const T of [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView]) {
    const { BYTES_PER_ELEMENT = 1 } = T;
    if (byteLength % BYTES_PER_ELEMENT === 0) out.push(new T(buffer, byteOffset, byteLength / BYTES_PER_ELEMENT));
  }
  return out;
}
function getBufferSources(buf) { return [...getArrayBufferViews(buf), new Uint8Array(buf).buffer]; }
function mustNotMutateObjectDeep(o) { return o; }
const tmpdir = require('./tmpdir');
const PIPE = process.platform === 'win32' ? '\\\\.\\pipe\\libuv-test' : path.join(tmpdir.path, `test.${process.pid}.sock`);
module.exports = {
  fail: (m) => assert.fail(m || 'fail'),
  mustCall, mustCallAtLeast, mustSucceed, mustNotCall, expectsError, invalidArgTypeHelper,
  platformTimeout, skip, printSkipMessage, expectWarning, getArrayBufferViews, getBufferSources, mustNotMutateObjectDeep,
  hasIPv6, hasCrypto: true, hasIntl: true, isWindows: false, isLinux: process.platform === 'linux', isMacOS: false, isOSX: false,
  isAIX: false, isSunOS: false, isIBMi: false, isFreeBSD: false, isOpenBSD: false, isDumbTerminal: false,
  isMainThread: require('worker_threads').isMainThread, isPi: false,
  PORT: 12346 + (process.pid % 2000), localhostIPv4: '127.0.0.1', localIPv6Hosts: ['localhost'], PIPE,
  hasMultiLocalhost: () => true, canCreateSymLink: () => true, allowGlobals() {}, enoughTestMem: true,
  get localhostIPv6() { return '::1'; },
  spawnPromisified: async (...args) => { const { spawn } = require('child_process'); let stderr = ''; let stdout = ''; const child = spawn(...args); child.stderr.setEncoding('utf8'); child.stderr.on('data', (d) => { stderr += d; }); child.stdout.setEncoding('utf8'); child.stdout.on('data', (d) => { stdout += d; }); return new Promise((resolve, reject) => { child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })); child.on('error', reject); }); },
};
