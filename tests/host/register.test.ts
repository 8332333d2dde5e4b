// `node --import wasinet/register` and `--require wasinet/register` (issue 14.3): an unmodified
// program — an aedes broker on node:net, an mqtt.js client that imports `net` itself — runs on
// wasinet; WASINET_RECORD records it (the trace holds the client's MQTT packets, and replays
// identically on the core), WASINET_REPLAY runs it again offline on the recording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTrace, type InputRecord } from '../../host/index.js';
import { sockPath } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const app = join(root, 'build/tests/host/apps/mqtt-app.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout.trim() ? JSON.parse(r.stdout.trim().split('\n').pop()!) : null };
}

const expected = { got: ['hello 0', 'hello 1', 'hello 2'] };

test('without the hook the program runs on node:net', () => {
  const r = run([app]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { ...expected, nodeNet: true });
});

test('--import wasinet/register: the program and mqtt.js run on wasinet', () => {
  const r = run(['--import', 'wasinet/register', app]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { ...expected, nodeNet: false });
});

test('require, import, net and node:net all resolve to wasinet; wasinet itself keeps node:net', () => {
  const probe = `
    const a = require('net'), b = require('node:net');
    import('net').then(async (c) => {
      const d = await import('node:net');
      const real = process.getBuiltinModule('node:net');
      console.log(JSON.stringify({
        same: a === b && c.default === d.default && c.Socket === a.Socket,
        wasinet: 'createStack' in a && typeof c.default.createStack === 'function',
        notNode: a.Socket !== real.Socket,
        // What a library enumerating net sees is node:net's (wasinet's extras are not enumerable
        // on the object and not exports of the namespace).
        keys: Object.keys(a).join() === Object.keys(real).join(),
        names: Object.keys(c).sort().join() === Object.keys(d).sort().join()
          && Object.keys(c).filter((k) => k !== 'default').sort().join() === Object.keys(real).sort().join(),
      }));
    });`;
  for (const flag of ['--require', '--import']) {
    const r = run([flag, 'wasinet/register', '-e', probe]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.out, { same: true, wasinet: true, notNode: true, keys: true, names: true }, flag);
  }
});

test('net._createServerHandle under the hook is node:net\'s: a bound handle a wasinet server listens on (cluster\'s way)', () => {
  const probe = `
    const net = require('net');
    const handle = net._createServerHandle('127.0.0.1', 0, 4);
    const server = net.createServer((c) => c.end('hi'));
    server.listen(handle, () => {
      const c = net.connect(server.address().port, '127.0.0.1');
      let got = '';
      c.on('data', (d) => { got += d; });
      c.on('close', () => {
        server.close();
        console.log(JSON.stringify({ handle: typeof handle === 'object', got, wasinet: !(server instanceof process.getBuiltinModule('node:net').Server) }));
      });
    });`;
  const r = run(['--require', 'wasinet/register', '-e', probe]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { handle: true, got: 'hi', wasinet: true });
});

test('WASINET_RECORD records the program (mqtt.js packets included); the trace replays on the core and the program replays offline', () => {
  const file = sockPath('mqtt').replace(/\.sock$/, '.trace');
  const r = run(['--require', 'wasinet/register', app], { WASINET_RECORD: file });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { ...expected, nodeNet: false });
  assert.ok(existsSync(file));
  const { records } = readTrace(file);
  const inputs = records.filter((x): x is InputRecord => x.kind === 'input');
  const last = records.at(-1);
  assert.equal(last?.kind === 'meta' ? last.type : last?.kind, 'end', 'the recording was closed at exit');
  // mqtt.js's CONNECT (packet type 1) with its client id, written through wasinet.
  const connect = inputs.find((x) => x.name === 'apiWrite' && x.payload && x.payload[0] === 0x10);
  assert.ok(connect && connect.payload!.includes(Buffer.from('register-test')), 'the CONNECT packet is in the trace');
  assert.ok(inputs.some((x) => x.name === 'onConnection') && inputs.some((x) => x.name === 'apiListen'));

  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.equal(core.status, 0, core.stdout + core.stderr);
  assert.match(core.stdout, /replay identical/);

  for (let i = 0; i < 3; i++) {
    const again = run(['--import', 'wasinet/register', app], { WASINET_REPLAY: file });
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(again.out, { ...expected, nodeNet: false });
    assert.match(again.stderr, new RegExp(`followed the recording \\(${inputs.length} inputs\\)`));
  }

  // The program changed (another client id): the replay stops at the CONNECT packet, exit 1,
  // and WASINET_REPLAY_HTML has the timeline with the divergence.
  const html = file.replace(/\.trace$/, '.html');
  const changed = run(['--import', 'wasinet/register', app], { WASINET_REPLAY: file, WASINET_REPLAY_HTML: html, MQTT_CLIENT_ID: 'someone-else' });
  assert.equal(changed.status, 1, changed.stderr);
  assert.match(changed.stderr, new RegExp(`replay diverged at input ${connect.seq + 1} .*: different call`));
  assert.match(readFileSync(html, 'utf8'), /application replay diverged at input/);
});

test('WASINET_RECORD: writes batched when the program calls process.exit() at once are in the trace', () => {
  const file = sockPath('exit').replace(/\.sock$/, '.trace');
  const program = `
    import net from 'node:net';
    const srv = net.createServer((s) => s.resume());
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => { c.write('bye'); process.exit(0); });
    });`;
  const r = spawnSync(process.execPath, ['--import', 'wasinet/register', '--input-type=module', '-e', program],
    { cwd: root, env: { ...process.env, WASINET_RECORD: file }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const records = readTrace(file).records;
  const inputs = records.filter((x): x is InputRecord => x.kind === 'input');
  const bye = inputs.findIndex((x) => x.name === 'apiWrite' && x.payload?.toString() === 'bye');
  assert.ok(bye >= 0, 'the last write is recorded');
  assert.ok(inputs.slice(bye + 1).some((x) => x.name === 'apiFlush'), 'and the flush at exit that sent it');
  const last = records.at(-1);
  assert.equal(last?.kind === 'meta' ? last.type : last?.kind, 'end');
});

test('WASINET_RECORD with %p: a program and the child it forks record one trace each, named by process id, and both replay', () => {
  const dir = dirname(sockPath('pid'));
  const pattern = join(dir, `forked-%p.trace`);
  const program = `
    import net from 'node:net';
    import { fork } from 'node:child_process';
    if (process.argv[2] === 'child') {
      const c = net.connect(Number(process.argv[3]), '127.0.0.1', () => c.end('from ' + process.pid));
    } else {
      const srv = net.createServer((s) => {
        let got = '';
        s.on('data', (d) => { got += d; });
        s.on('end', () => { console.log(JSON.stringify({ parent: process.pid, got })); srv.close(); });
      });
      srv.listen(0, '127.0.0.1', () => {
        const child = fork(process.argv[1], ['child', String(srv.address().port)]);
      });
    }`;
  const app = join(dir, 'forking.mjs');
  writeFileSync(app, program);
  const r = run(['--import', 'wasinet/register', app], { WASINET_RECORD: pattern });
  assert.equal(r.status, 0, r.stderr);
  const { parent, got } = r.out as { parent: number; got: string };
  const childPid = Number(/^from (\d+)$/.exec(got)?.[1]);
  assert.ok(childPid > 0 && childPid !== parent, got);
  for (const pid of [parent, childPid]) {
    const file = pattern.replace('%p', String(pid));
    assert.ok(existsSync(file), `a trace for process ${pid}`);
    const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
    assert.equal(core.status, 0, core.stdout + core.stderr);
    const writes = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input' && x.name === 'apiWrite');
    if (pid === childPid) assert.equal(writes.map((x) => x.payload!.toString()).join(''), got, 'the child recorded its own write');
  }
});

test('WASINET_RECORD, then SIGTERM: the stopped program\'s trace replays, and its application replay follows it to the end and says the recording was cut there', { timeout: 60000 }, async () => {
  const file = sockPath('stopped').replace(/\.sock$/, '.trace');
  const app = join(dirname(file), 'pingpong-forever.mjs');
  // Ping-pong driven by the data alone (no timers of its own), forever; "ready" after 200 rounds.
  writeFileSync(app, `
    import net from 'node:net';
    import { writeSync } from 'node:fs';
    const srv = net.createServer((c) => c.on('data', (d) => c.write('pong ' + d.toString().slice(5))));
    srv.listen(0, '127.0.0.1', () => {
      const s = net.connect(srv.address().port, '127.0.0.1');
      let n = 0;
      s.on('connect', () => s.write('ping ' + n++));
      s.on('data', () => { if (n === 200) writeSync(1, 'ready\\n'); s.write('ping ' + n++); });
    });`);
  const { spawn } = await import('node:child_process');
  const ended = await new Promise<{ code: number | null; signal: string | null }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'wasinet/register', app], { cwd: root, env: { ...process.env, WASINET_RECORD: file }, stdio: ['ignore', 'pipe', 'inherit'] });
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the program did not get ready')); }, 30_000);
    child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) child.kill('SIGTERM'); });
    child.on('exit', (code, signal) => { clearTimeout(guard); resolve({ code, signal }); });
  });
  assert.equal(ended.signal, 'SIGTERM', `the program still dies of the signal (code ${ended.code})`);
  const inputs = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input');
  assert.ok(inputs.filter((x) => x.name === 'apiWrite').length >= 400, 'both ends\' writes up to the signal are in it');
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.equal(core.status, 0, core.stdout + core.stderr);
  assert.match(core.stdout, /no end mark/);
  const again = spawnSync(process.execPath, ['--import', 'wasinet/register', app], { cwd: root, env: { ...process.env, WASINET_REPLAY: file }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, 'ready\n', 'the replayed program got as far as the recorded one');
  assert.match(again.stderr, new RegExp(`followed the recording \\(${inputs.length} inputs\\); the recording has no end mark`));
});

test('WASINET_RECORD with --require and a worker thread that uses net: only the main thread records (one readable trace), the worker\'s net is wasinet too', () => {
  const file = sockPath('worker').replace(/\.sock$/, '.trace');
  const dir = dirname(file);
  const program = join(dir, 'with-worker.cjs');
  writeFileSync(program, `
    const net = require('net');
    const { Worker } = require('worker_threads');
    const srv = net.createServer((s) => { let got = ''; s.on('data', (d) => { got += d; }); s.on('end', () => { s.end(); srv.close(); console.log(JSON.stringify({ got })); }); });
    srv.listen(0, '127.0.0.1', () => {
      new Worker(\`
        const net = require('net');
        const real = process.getBuiltinModule('net');
        const c = net.connect(\${srv.address().port}, '127.0.0.1', () => c.end(net.Socket === real.Socket ? 'node' : 'wasinet'));
        c.resume();\`, { eval: true });
    });`);
  const r = run(['--require', 'wasinet/register', program], { WASINET_RECORD: file });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { got: 'wasinet' });
  const { header, records } = readTrace(file);
  assert.equal(header.segment, 0);
  const last = records.at(-1);
  assert.equal(last?.kind === 'meta' ? last.type : last?.kind, 'end');
  const inputs = records.filter((x): x is InputRecord => x.kind === 'input');
  assert.ok(inputs.some((x) => x.name === 'onData' && x.payload?.toString() === 'wasinet'), 'the main thread\'s server read the worker\'s bytes');
  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.equal(core.status, 0, core.stdout + core.stderr);
});

test('a program whose own timer comes between its calls for longer than `wait` replays: its timer goes by the recording\'s clock (on the wall clock, WASINET_REPLAY_TIMERS=0, it takes WASINET_REPLAY_SPEED=1)', () => {
  const file = sockPath('speed').replace(/\.sock$/, '.trace');
  const program = join(dirname(file), 'slow-timer.mjs');
  // A client that writes, waits 1.2 s on a timer of its own, and writes again.
  writeFileSync(program, `
    import net from 'node:net';
    const srv = net.createServer((s) => { let got = ''; s.on('data', (d) => { got += d; }); s.on('end', () => { s.end(); srv.close(); console.log(JSON.stringify({ got })); }); });
    srv.listen(0, '127.0.0.1', () => {
      const c = net.connect(srv.address().port, '127.0.0.1', () => {
        c.write('one ');
        setTimeout(() => c.end('two'), 1200);
      });
      c.resume();
    });`);
  const r = run(['--import', 'wasinet/register', program], { WASINET_RECORD: file });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.out, { got: 'one two' });
  // The program's timer is due 1.2 s after the first write on the recording's clock: the replay
  // gets there at once (nothing was recorded in between) and runs it.
  const t0 = performance.now();
  const virtual = run(['--import', 'wasinet/register', program], { WASINET_REPLAY: file, WASINET_REPLAY_WAIT: '500' });
  assert.equal(virtual.status, 0, virtual.stderr);
  assert.deepEqual(virtual.out, { got: 'one two' });
  assert.match(virtual.stderr, /followed the recording/);
  assert.ok(performance.now() - t0 < 1200, `the replay took ${performance.now() - t0} ms: the timer ran on the wall clock`);
  // On the wall clock and as fast as it goes, the replay waits 500 ms for the second write, which comes 1.2 s later.
  const fast = run(['--import', 'wasinet/register', program], { WASINET_REPLAY: file, WASINET_REPLAY_WAIT: '500', WASINET_REPLAY_TIMERS: '0' });
  assert.equal(fast.status, 1, fast.stderr);
  assert.match(fast.stderr, /replay diverged at input \d+ .*\n  recorded: apiWrite h=\d+ 3 B \(last\) "two"/);
  const paced = run(['--import', 'wasinet/register', program], { WASINET_REPLAY: file, WASINET_REPLAY_WAIT: '500', WASINET_REPLAY_SPEED: '1', WASINET_REPLAY_TIMERS: '0' });
  assert.equal(paced.status, 0, paced.stderr);
  assert.deepEqual(paced.out, { got: 'one two' });
  assert.match(paced.stderr, /followed the recording/);
});

// Node's http on wasinet under the hook (host/register/http.ts): http.Server listens through a
// wasinet server and http.Agent connects with wasinet's createConnection.
const surface = join(root, 'build/tests/host/apps/http-surface.js');
function surfaceRun(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [...args, surface, sockPath('http')], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  const [log, served] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown);
  return { status: r.status, stderr: r.stderr, stdout: r.stdout, log: log as string[], wasinet: (served as { wasinet: boolean[] }).wasinet };
}

test('http under the hook: an http.Server, http.Agent and fetch program logs exactly what it logs on plain Node, and every connection is wasinet\'s', () => {
  const plain = surfaceRun([]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(plain.log.length > 20 && !plain.log.some((l) => l.startsWith('unsettled')), plain.log.join('\n'));
  assert.ok(plain.wasinet.every((w) => !w), 'on plain Node no connection is wasinet\'s');
  for (const flag of ['--import', '--require']) {
    const hooked = surfaceRun([flag, 'wasinet/register']);
    assert.equal(hooked.status, 0, hooked.stderr);
    assert.deepEqual(hooked.log, plain.log, flag);
    // Server side and client side of each connection (the 'connection' and the request's 'socket').
    assert.equal(hooked.wasinet.length, plain.wasinet.length);
    assert.ok(hooked.wasinet.every((w) => w), `${flag}: every connection on wasinet: ${hooked.wasinet}`);
  }
  const off = surfaceRun(['--import', 'wasinet/register'], { WASINET_HTTP: '0' });
  assert.equal(off.status, 0, off.stderr);
  assert.deepEqual(off.log, plain.log);
  // The drop test's held connection is net's own (wasinet, under the hook): not an http one.
  assert.ok(off.wasinet.filter((w) => w).length <= 1, `WASINET_HTTP=0 leaves http on Node's net: ${off.wasinet}`);
});

test('http under the hook: WASINET_RECORD records an unmodified http server, http client and fetch; the trace replays on the core and the program replays offline (idle connections closed in the same order); a changed response diverges', () => {
  const file = sockPath('httprec').replace(/\.sock$/, '.trace');
  const path = sockPath('httpapp');
  const runAt = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['--import', 'wasinet/register', surface, path], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const rec = runAt({ WASINET_RECORD: file });
  assert.equal(rec.status, 0, rec.stderr);
  const inputs = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input');
  // The server's response and the client's request, both written through wasinet.
  const response = inputs.find((x) => x.name === 'apiWrite' && x.payload?.toString().includes('POST /a to /a'));
  assert.ok(response, 'the response is in the trace');
  assert.ok(inputs.some((x) => x.name === 'apiWrite' && x.payload?.toString().startsWith('POST /a HTTP/1.1')), 'and the request');
  // The global fetch's request (Node's undici: its user-agent), written through wasinet.
  assert.ok(inputs.some((x) => x.name === 'apiWrite' && /^POST \/f HTTP\/1.1\r\n[^]*user-agent: node/i.test(x.payload?.toString() ?? '')), 'and fetch\'s request');

  const core = spawnSync(process.execPath, [join(root, 'bin/wasinet.js'), 'replay', file], { encoding: 'utf8' });
  assert.equal(core.status, 0, core.stdout + core.stderr);
  assert.match(core.stdout, /replay identical/);

  for (let i = 0; i < 3; i++) {
    const again = runAt({ WASINET_REPLAY: file });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, rec.stdout, 'the replayed program prints what the recorded one printed');
    assert.match(again.stderr, new RegExp(`followed the recording \\(${inputs.length} inputs\\)`));
  }
  const changed = runAt({ WASINET_REPLAY: file, SURFACE_VARIANT: 'v2 ' });
  assert.equal(changed.status, 1, changed.stderr);
  assert.match(changed.stderr, new RegExp(`replay diverged at input ${response.seq + 1} `));
});

test('http under the hook: child_process.send(message, server) passes a listening http.Server to a child, which answers on it, as on plain Node', () => {
  const program = `
    const cp = require('child_process'), http = require('http'), net = require('net');
    if (process.argv[2] === 'child') {
      process.on('message', (m, server) => {
        if (m !== 'server') return;
        server.on('connection', (s) => { s.end('child handled'); server.close(); process.disconnect(); });
        process.send('ready');
      });
    } else {
      const child = cp.fork(__filename, ['child']);
      const server = http.createServer((req, res) => res.end('parent'));
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address();
        child.send('server', server);
        child.on('message', () => server.close(() => {
          net.connect(port, '127.0.0.1').on('data', (d) => console.log(String(d) + ', server ' + ('createStack' in net ? 'wasinet' : 'node')))
            .on('error', (e) => console.log('client error ' + e.code));
        }));
      });
    }`;
  const file = sockPath('send').replace(/\.sock$/, '.cjs');
  writeFileSync(file, program);
  const plain = spawnSync(process.execPath, [file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout.trim(), 'child handled, server node');
  const hooked = spawnSync(process.execPath, ['--require', 'wasinet/register', file], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.equal(hooked.status, 0, hooked.stderr);
  assert.equal(hooked.stdout.trim(), 'child handled, server wasinet');
});

test('http under the hook: a ws WebSocketServer on a port of its own and a ws client, recorded, replay offline; the trace holds the server\'s side (its listen, its accepted connection)', () => {
  const wsApp = join(root, 'build/tests/host/apps/ws-port-app.js');
  const file = sockPath('wsport').replace(/\.sock$/, '.trace');
  const rec = spawnSync(process.execPath, ['--import', 'wasinet/register', wsApp], { cwd: root, env: { ...process.env, WASINET_RECORD: file }, encoding: 'utf8', timeout: 60_000 });
  assert.equal(rec.status, 0, rec.stderr);
  const got = JSON.parse(rec.stdout.trim()) as string[];
  assert.deepEqual(got.map((m) => m.split(' ').slice(0, 2).join(' ')), ['echo m0', 'echo m1', 'echo m2']);
  const inputs = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input');
  assert.ok(inputs.some((x) => x.name === 'apiListen') && inputs.some((x) => x.name === 'onConnection'), 'the server listened and accepted through wasinet');
  assert.ok(inputs.some((x) => x.name === 'apiWrite' && x.payload?.toString().startsWith('HTTP/1.1 101 Switching Protocols')), 'the server\'s upgrade response is in the trace');
  for (let i = 0; i < 2; i++) {
    const again = spawnSync(process.execPath, ['--import', 'wasinet/register', wsApp], { cwd: root, env: { ...process.env, WASINET_REPLAY: file }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, rec.stdout);
    assert.match(again.stderr, /followed the recording/);
  }
});

test('http under the hook: fetch over https (its connections stay on Node\'s tls) answers as on plain Node: the server name sent, http/1.1 by ALPN, the certificate checked', () => {
  const fixtures = join(root, 'tests/fixtures');
  const program = `
    const https = require('https'), fs = require('fs');
    let sni = 'none';
    const server = https.createServer({ key: fs.readFileSync(${JSON.stringify(join(fixtures, 'localhost-key.pem'))}), cert: fs.readFileSync(${JSON.stringify(join(fixtures, 'localhost-cert.pem'))}),
      SNICallback: (name, cb) => { sni = name; cb(null); } },
      (req, res) => res.end('secure ' + req.url + ' ' + req.socket.alpnProtocol + ' ' + sni));
    server.listen(0, '127.0.0.1', async () => {
      const { port } = server.address();
      const ok = await fetch('https://localhost:' + port + '/x').then(async (r) => r.status + ' ' + await r.text());
      console.log(ok);
      server.close(); server.closeAllConnections();
    });`;
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(fixtures, 'localhost-cert.pem') };
  const plain = spawnSync(process.execPath, ['-e', program], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout, '200 secure /x http/1.1 localhost\n');
  const hooked = spawnSync(process.execPath, ['--require', 'wasinet/register', '-e', program], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(hooked.status, 0, hooked.stderr);
  assert.equal(hooked.stdout, plain.stdout);
  // Without the certificate's authority the request fails, as on plain Node.
  const untrusted = spawnSync(process.execPath, ['--require', 'wasinet/register', '-e', program], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(untrusted.status, 0);
  assert.match(untrusted.stderr, /fetch failed[^]*(SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO)/);
});
