// child_process's send() with a wasinet server or socket as the handle (host/net/child-send.ts):
// node:net's servers and sockets go to a forked child, and so now do wasinet's. Each case runs
// tests/host/apps/child-send-app.ts with node:net and with wasinet in the parent (real loopback
// TCP and Unix sockets, a real child process) and the two logs must be the same; the facts that
// matter are asserted on their own as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, fork } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createStack, readTrace } from '../../host/index.js';

const app = join(fileURLToPath(new URL('.', import.meta.url)), 'apps/child-send-app.js');

function run(lib: string, scenario: string, transport: string, childLib = 'node'): unknown[] {
  const r = spawnSync(process.execPath, [app, lib, scenario, transport, childLib], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${lib} ${scenario} ${transport}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown[];
}

for (const transport of ['tcp', 'unix']) {
  test(`${transport}: a connection sent to a child is the child's; the parent's socket is let go of and its server counts it there, as on node:net`, () => {
    const node = run('node', 'socket', transport);
    const ours = run('wasinet', 'socket', transport);
    assert.deepEqual(ours, node);
    assert.deepEqual(ours, [
      ['sent', null, 'no handle', false],
      ['write after send', 'ERR_SOCKET_CLOSED'],
      ['parent socket close', []],
      ['child wrote', 'node:net'],
      // Node's count: the child's socket (1), less the parent's sent socket counted out at the
      // send and again at its destroy (-1).
      ['connections', null, 0],
      ['server closed after the child ended its socket', true],
      ['reply', 'child got hello\n'],
    ]);
  });

  test(`${transport}: send() with keepOpen: both processes keep the connection and both write on it, as on node:net`, () => {
    const node = run('node', 'keepOpen', transport);
    const ours = run('wasinet', 'keepOpen', transport);
    assert.deepEqual(ours, node);
    assert.deepEqual(ours, [['sent', null, 'handle', false], ['child wrote', 'node:net'], ['reply', 'child got hello\nparent too\n']]);
  });
}

test('a listening server sent to a child: the child accepts on it, and once the parent closes its own, every connection, as on node:net', () => {
  const node = run('node', 'server', 'tcp');
  const ours = run('wasinet', 'server', 'tcp');
  assert.deepEqual(ours, node);
  assert.deepEqual(ours.slice(0, 3), [['sent', null, true], ['child', { what: 'listening', isServer: true }], ['parent server closed', false]]);
  assert.deepEqual(ours.slice(3), [['reply', 'from child\n'], ['reply', 'from child\n'], ['reply', 'from child\n']]);
});

test('a child that loaded wasinet gets a connection sent to it as a wasinet socket (from a node:net parent or a wasinet one)', () => {
  for (const lib of ['node', 'wasinet']) {
    const log = run(lib, 'socket', 'tcp', 'wasinet');
    assert.deepEqual(log.find((e) => (e as unknown[])[0] === 'child wrote'), ['child wrote', 'wasinet'], lib);
    // Node's list of the sockets sent there counts it until it closes: the parent's server
    // closed only after the child ended it.
    assert.deepEqual(log.slice(-2), [['server closed after the child ended its socket', true], ['reply', 'child got hello\n']], lib);
  }
});

test('under wasinet/register an http server\'s request socket (wasinet\'s) goes to a child, which answers on it; the parent\'s parser is freed, as on plain Node', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const plain = spawnSync(process.execPath, [app, 'node', 'http', 'tcp'], { encoding: 'utf8', timeout: 30_000 });
  const hooked = spawnSync(process.execPath, ['--import', 'wasinet/register', app, 'node', 'http', 'tcp'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(hooked.status, 0, hooked.stderr);
  const expected = [['body', 'from child: GET /x'], ['parser', null], ['response', null]];
  assert.deepEqual(JSON.parse(plain.stdout), [...expected, ['socket', 'node:net']]);
  assert.deepEqual(JSON.parse(hooked.stdout), [...expected, ['socket', 'wasinet']]);
});

test('sticky sessions over node:cluster (a primary hands each connection to a worker with worker.send, the worker\'s http server answers): the same on plain Node and under wasinet/register; recorded, every process\'s trace replays', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  const sticky = join(fileURLToPath(new URL('.', import.meta.url)), 'apps/sticky-app.js');
  const expected = { got: ['/0 from', '/1 from', '/2 from', '/3 from', '/4 from', '/5 from'], alternate: true };
  const runIt = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [...args, sticky], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown;
  };
  assert.deepEqual(runIt([]), { ...expected, wasinet: false });
  assert.deepEqual(runIt(['--import', 'wasinet/register']), { ...expected, wasinet: true });
  const dir = mkdtempSync(join(tmpdir(), 'sticky-'));
  try {
    assert.deepEqual(runIt(['--import', 'wasinet/register'], { WASINET_RECORD: join(dir, 'p-%p.trace') }), { ...expected, wasinet: true });
    const traces = readdirSync(dir).filter((f) => f.endsWith('.trace'));
    assert.equal(traces.length, 3, `one trace per process: ${traces.join(', ')}`);
    let adopted = 0;
    for (const f of traces) {
      const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', join(dir, f)], { encoding: 'utf8' });
      assert.equal(core.status, 0, core.stdout + core.stderr);
      assert.match(core.stdout, /replay identical/);
      const { records } = readTrace(join(dir, f));
      // A worker's connections came as handles (apiOpen of the socket it was sent).
      if (records.some((x) => x.kind === 'input' && x.name === 'apiOpen')) adopted++;
    }
    assert.equal(adopted, 2, 'both workers adopted the connections they were sent');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a socket or server with no OS handle (a simulated network\'s) is refused as before: ERR_INVALID_HANDLE_TYPE; other sends are unchanged', async () => {
  const child = fork(app, ['child', 'node'], { execArgv: [], stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('message', resolve));
    const stack = createStack({ backend: 'sim' });
    const server = stack.createServer();
    await new Promise<void>((resolve) => server.listen(80, () => resolve()));
    const socket = stack.connect(80);
    await new Promise((resolve) => socket.once('connect', resolve));
    for (const handle of [server, socket]) {
      assert.throws(() => child.send({ what: 'nothing' }, handle as never), { code: 'ERR_INVALID_HANDLE_TYPE', name: 'TypeError' });
    }
    assert.equal(socket.destroyed, false, 'the refused socket is still the parent\'s');
    socket.destroy();
    server.close();
    assert.equal(child.send({ what: 'nothing' }), true);
    assert.throws(() => child.send(undefined as never, socket as never), { code: 'ERR_MISSING_ARGS' });
  } finally {
    child.kill();
  }
});
