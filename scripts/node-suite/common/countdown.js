'use strict';
const assert = require('assert'); const common = require('./');
module.exports = class Countdown { #n; #cb; constructor(n, cb) { assert.ok(n > 0); this.#n = n; this.#cb = common.mustCall(cb); } dec() { assert(this.#n > 0, 'Countdown expired'); if (--this.#n === 0) this.#cb(); return this.#n; } get remaining() { return this.#n; } };
