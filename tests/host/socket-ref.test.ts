// ref() / unref(): a child process whose only handle is an unref'ed connected socket exits by
// itself; with ref it stays until the socket closes. The child imports the library under test
// (node:net, or wasinet from its absolute path) and connects to a node:net server here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import nodeNet from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serve, until, sleep } from './helpers.js';

const WASINET = fileURLToPath(new URL('../../host/index.js', import.meta.url)); // /work/main/build/host/index.js
const CHILD_LIBS: [string, string][] = [['node:net', 'node:net'], ['wasinet', WASINET]];

// argv: library specifier, port, mode. Modes: 'ref' (default), 'unref' (on connect),
// 'unref-early' (right after connect()), 'unref-before' (on the new Socket, before connect()),
// 'unref-ref' (unref then ref on connect).
const CHILD = `
const [spec, portArg, mode] = process.argv.slice(1);
const net = (await import(spec)).default;
const say = (s) => process.stdout.write(s + '\\n');
const s = new net.Socket();
if (mode === 'unref-before') s.unref();
s.connect(Number(portArg), '127.0.0.1', () => {
  if (mode === 'unref') s.unref();
  if (mode === 'unref-ref') { s.unref(); s.ref(); }
  say('connected');
});
if (mode === 'unref-early') s.unref();
s.on('data', (d) => say('data ' + d));
s.on('error', (e) => say('error ' + e.code));
s.on('close', () => say('closed'));
`;

function runChild(lib: string, port: number, mode: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, lib, String(port), mode],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const st = { out: '', err: '', exit: null as number | null, signal: null as string | null };
  child.stdout.on('data', (d) => { st.out += d; });
  child.stderr.on('data', (d) => { st.err += d; });
  child.on('exit', (code, signal) => { st.exit = code; st.signal = signal; });
  return { child, st };
}

async function withPeer(fn: (port: number, peers: nodeNet.Socket[]) => Promise<void>): Promise<void> {
  const srv = await serve(nodeNet, (p) => { p.on('error', () => {}); p.resume(); p.write('hi'); });
  try { await fn(srv.port, srv.sockets); } finally { await srv.close(); }
}

for (const [lib, spec] of CHILD_LIBS) {
  for (const mode of ['unref', 'unref-early', 'unref-before'] as const) {
    const when = { unref: "on 'connect'", 'unref-early': 'right after connect()', 'unref-before': 'before connect()' }[mode];
    test(`${lib}: a process whose only handle is a connected socket unref'ed ${when} exits by itself`, { timeout: 20000 }, async () => {
      await withPeer(async (port, peers) => {
        const { child, st } = runChild(spec, port, mode);
        try {
          await until(() => st.exit !== null || st.signal !== null, 10000, `the child to exit (stdout ${JSON.stringify(st.out)})`);
          assert.equal(st.exit, 0, `exit code; stderr: ${st.err}`);
          assert.match(st.out, /^connected\n/);
          assert.doesNotMatch(st.out, /closed/, 'it exited with the socket still open');
          assert.equal(peers.length, 1, 'the peer saw the connection');
        } finally { child.kill(); }
      });
    });
  }

  for (const mode of ['ref', 'unref-ref'] as const) {
    const how = mode === 'ref' ? 'a ref\'ed (default) socket' : 'a socket unref\'ed then ref\'ed again';
    test(`${lib}: with ${how} the process stays until the socket closes, then exits`, { timeout: 20000 }, async () => {
      await withPeer(async (port, peers) => {
        const { child, st } = runChild(spec, port, mode);
        try {
          await until(() => st.out.includes('connected') || st.exit !== null, 10000, 'the child to connect');
          await until(() => peers.length === 1, 5000, 'the peer connection');
          await sleep(1500);
          assert.equal(st.exit, null, `the child exited while its socket was open; stdout ${JSON.stringify(st.out)} stderr ${st.err}`);
          peers[0].end();
          await until(() => st.exit !== null || st.signal !== null, 10000, `the child to exit after the close (stdout ${JSON.stringify(st.out)})`);
          assert.equal(st.exit, 0, `exit code; stderr: ${st.err}`);
          assert.equal(st.out, 'connected\ndata hi\nclosed\n');
        } finally { child.kill(); }
      });
    });
  }
}

test('a stack timer keeps the process alive until it fires, on real sockets and on the sim; a cleared one does not', async () => {
  for (const make of ['lib.createStack()', "lib.createStack({ backend: 'sim' })"]) {
    const script = `
      const lib = await import(${JSON.stringify(WASINET)});
      const net = ${make};
      const t0 = Date.now();
      net.setTimeout(() => console.log('fired'), 300);
      const id = net.setTimeout(() => console.log('cleared, yet fired'), 20000);
      net.clearTimeout(id);
      process.on('exit', () => console.log('exit in time', Date.now() - t0 < 10000));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const code = await new Promise((r) => child.on('exit', r));
    assert.equal(code, 0);
    assert.equal(out, 'fired\nexit in time true\n', make);
  }
});
