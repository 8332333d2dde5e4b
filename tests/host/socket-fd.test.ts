// new net.Socket({ fd }): wrapping an existing descriptor, on both libraries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, closeSync, constants, unlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { libs, sockPath } from './helpers.js';

for (const [lib, net] of libs) {
  test(`${lib}: new Socket({ fd }) on a pipe is open at once (no 'connect') and reads back what it writes`, { timeout: 10000 }, async () => {
    const path = sockPath('fifo').replace(/\.sock$/, '.fifo');
    execFileSync('mkfifo', [path]);
    try {
      const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
      const s = new net.Socket({ fd });
      const events: string[] = [];
      s.on('connect', () => events.push('connect'));
      assert.equal(s.connecting, false);
      assert.equal(s.pending, false);
      assert.equal(s.readyState, 'open');
      assert.equal(s.remoteAddress, undefined);
      assert.deepEqual(s.address(), {});
      const got = new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(String(d))));
      s.write('through the fifo');
      assert.equal(await got, 'through the fifo');
      const closedWith = new Promise((r) => s.on('close', r));
      s.destroy();
      assert.equal(await closedWith, false);
      assert.deepEqual(events, []);
    } finally {
      unlinkSync(path);
    }
  });

  test(`${lib}: new Socket({ fd }) of a regular file throws ERR_INVALID_FD_TYPE`, () => {
    const fd = openSync('/etc/hostname', 'r');
    try {
      assert.throws(() => new net.Socket({ fd }), (e: NodeJS.ErrnoException) => {
        assert.ok(e instanceof TypeError);
        assert.equal(e.code, 'ERR_INVALID_FD_TYPE');
        assert.equal(e.message, 'Unsupported fd type: FILE');
        return true;
      });
    } finally {
      closeSync(fd);
    }
  });
}
