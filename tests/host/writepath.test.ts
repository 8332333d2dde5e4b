// The node backend writes through libuv directly when Node's internals allow it, else through
// the public raw socket. Both paths must move bytes exactly: this runs a transfer with the
// public path forced (WASINET_NO_INTERNALS=1) in a child process; the other tests use the default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writePath } from '../../host/backend/node.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

const script = `
  import net from ${JSON.stringify(join(root, 'build/host/index.js'))};
  import { writePath } from ${JSON.stringify(join(root, 'build/host/backend/node.js'))};
  import { createHash } from 'node:crypto';
  const size = 32 * 1024 * 1024;
  const server = net.createServer((s) => s.pipe(s));
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1');
    const sent = createHash('sha256'), got = createHash('sha256');
    let n = 0;
    c.on('data', (d) => { got.update(d); n += d.length; });
    c.on('end', () => { console.log(JSON.stringify({ writePath, n, same: sent.digest('hex') === got.digest('hex') })); server.close(); c.end(); });
    (async () => {
      for (let i = 0; i < size / 16384; i++) {
        const b = Buffer.alloc(16384, i & 255); sent.update(b);
        if (!c.write(b)) await new Promise((r) => c.once('drain', r));
      }
      c.end();
    })();
  });
`;

function run(env: Record<string, string>): { writePath: string; n: number; same: boolean } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim());
}

test('the public write path (raw socket) moves 32 MiB each way exactly', { timeout: 60000 }, () => {
  const r = run({ WASINET_NO_INTERNALS: '1' });
  assert.deepEqual(r, { writePath: 'public', n: 32 * 1024 * 1024, same: true });
});

test('the default write path moves 32 MiB each way exactly, and is the internal one on this Node', { timeout: 60000 }, () => {
  const r = run({});
  assert.equal(r.writePath, writePath);
  assert.equal(writePath, 'internal', 'Node 20 offers stream_wrap: the feature check should find it');
  assert.deepEqual(r, { writePath: 'internal', n: 32 * 1024 * 1024, same: true });
});
