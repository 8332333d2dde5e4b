// node:cluster with servers of the library in the workers. A primary process (a child of the
// test) forks two workers; each worker creates a server of the library and listens on one port
// with exclusive false (shared through the primary, round-robin) or true (each binds itself, so
// the second fails with EADDRINUSE). The primary opens the connections, every worker answers with
// its pid, and the primary prints what it saw as JSON. Every test runs with node:net and with
// wasinet in the workers, same assertions. Times are bounded: the primary kills its workers and
// exits by itself after 12 s, and the test kills the primary after 20 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { libs, freePort } from './helpers.js';
import { runChild, libSpecifier } from './server-util.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Report {
  outcomes: { type: string; code?: string; syscall?: string; address?: string; port?: number; pid: number; message?: string }[];
  workerPids: number[];
  replies: string[];
}

function primaryScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    import nodeNet from 'node:net';
    const PORT = Number(process.env.WASINET_CLUSTER_PORT);
    const EXCLUSIVE = process.env.WASINET_CLUSTER_EXCLUSIVE === '1';
    const CONNECTIONS = Number(process.env.WASINET_CLUSTER_CONNECTIONS);
    if (cluster.isPrimary) {
      const workers = [cluster.fork(), cluster.fork()];
      const killAll = () => { for (const w of workers) { try { w.process.kill('SIGKILL'); } catch {} } };
      setTimeout(() => { console.log('TIMEOUT'); killAll(); process.exit(2); }, 12000).unref();
      const outcomes = [];
      for (const w of workers) {
        w.on('message', (m) => { outcomes.push(m); if (outcomes.length === 2) go(); });
      }
      const fetchReply = () => new Promise((resolve) => {
        const c = nodeNet.connect(PORT, '127.0.0.1');
        let got = '';
        const t = setTimeout(() => { c.destroy(); resolve('timeout'); }, 3000);
        c.setEncoding('utf8');
        c.on('data', (d) => { got += d; });
        c.on('error', (e) => { clearTimeout(t); resolve('error ' + e.code); });
        c.on('close', () => { clearTimeout(t); resolve(got); });
      });
      async function go() {
        const replies = [];
        if (outcomes.some((o) => o.type === 'listening')) {
          for (let i = 0; i < CONNECTIONS; i++) replies.push(await fetchReply());
        }
        console.log(JSON.stringify({ outcomes, workerPids: workers.map((w) => w.process.pid), replies }));
        let exited = 0;
        for (const w of workers) w.on('exit', () => { if (++exited === 2) process.exit(0); });
        killAll();
      }
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      const server = net.createServer((s) => { s.on('error', () => {}); s.end(String(process.pid)); });
      server.on('error', (e) => process.send({ type: 'error', code: e.code, syscall: e.syscall, address: e.address, port: e.port, message: e.message, pid: process.pid }));
      server.listen({ port: PORT, host: '127.0.0.1', exclusive: EXCLUSIVE },
        () => process.send({ type: 'listening', port: server.address().port, pid: process.pid }));
    }
  `;
}

async function runCluster(lib: string, exclusive: boolean, connections: number): Promise<{ report: Report; port: number; stderr: string }> {
  const port = await freePort();
  const r = await runChild(primaryScript(lib), 20000, {
    env: {
      WASINET_CLUSTER_PORT: String(port),
      WASINET_CLUSTER_EXCLUSIVE: exclusive ? '1' : '0',
      WASINET_CLUSTER_CONNECTIONS: String(connections),
    },
  });
  assert.equal(r.killed, false, `the primary did not finish in time; stdout ${r.stdout} stderr ${r.stderr}`);
  assert.equal(r.code, 0, `primary exit code ${r.code}; stdout ${r.stdout} stderr ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no report from the primary; stdout ${r.stdout} stderr ${r.stderr}`);
  return { report: JSON.parse(line) as Report, port, stderr: r.stderr };
}

for (const [lib] of libs) {
  test(`${lib}: cluster, exclusive: false: two workers share one port and both get connections`, { timeout: 30000 }, async () => {
    const { report, port } = await runCluster(lib, false, 20);
    assert.deepEqual(report.outcomes.map((o) => `${o.type} ${o.port}`), [`listening ${port}`, `listening ${port}`]);
    assert.equal(report.replies.length, 20);
    const pids = new Set(report.workerPids.map(String));
    for (const r of report.replies) assert.ok(pids.has(r), `reply ${JSON.stringify(r)} is a worker's pid`);
    for (const pid of pids) {
      const n = report.replies.filter((r) => r === pid).length;
      assert.ok(n > 0, `worker ${pid} got no connection (${report.replies.join(',')})`);
    }
  });

  test(`${lib}: cluster, exclusive: true: the second worker's listen on the same port fails with EADDRINUSE`, { timeout: 30000 }, async () => {
    const { report, port } = await runCluster(lib, true, 4);
    const listening = report.outcomes.filter((o) => o.type === 'listening');
    const errors = report.outcomes.filter((o) => o.type === 'error');
    assert.equal(listening.length, 1, JSON.stringify(report.outcomes));
    assert.equal(errors.length, 1, JSON.stringify(report.outcomes));
    assert.equal(listening[0].port, port);
    const e = errors[0];
    assert.deepEqual({ code: e.code, syscall: e.syscall, address: e.address, port: e.port, message: e.message }, {
      code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port,
      message: `listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
    });
    // Every connection goes to the worker that listens.
    assert.deepEqual(report.replies, Array(4).fill(String(listening[0].pid)));
  });
}

/** A primary (round-robin) with two workers; the first at maxConnections 1 keeps its connection open. */
function maxConnectionsScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    import nodeNet from 'node:net';
    cluster.schedulingPolicy = cluster.SCHED_RR;
    const CLIENTS = 6;
    if (cluster.isPrimary) {
      const workers = [cluster.fork({ WASINET_MAX: '1' }), cluster.fork({ WASINET_MAX: '0' })];
      const killAll = () => { for (const w of workers) { try { w.process.kill('SIGKILL'); } catch {} } };
      setTimeout(() => { console.log('TIMEOUT'); killAll(); process.exit(2); }, 12000).unref();
      let listening = 0;
      cluster.on('listening', (w, address) => {
        if (++listening < 2) return;
        let served = 0, closed = 0;
        for (let i = 0; i < CLIENTS; i++) {
          const c = nodeNet.connect(address.port, '127.0.0.1');
          c.on('data', () => { served++; });
          c.on('error', () => {});
          c.on('close', () => {
            if (++closed < CLIENTS) return;
            console.log(JSON.stringify({ served }));
            killAll();
            process.exit(0);
          });
          setTimeout(() => c.end(), 500);
        }
      });
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      const server = net.createServer((s) => { s.on('error', () => {}); s.write('hi'); s.on('end', () => s.end()); });
      server.maxConnections = Number(process.env.WASINET_MAX);
      server.listen(0, '127.0.0.1');
    }
  `;
}

/** A worker that closes its server before the primary answered the listen. */
function closeBeforeListenedScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    if (cluster.isPrimary) {
      const w = cluster.fork();
      w.on('message', (m) => { console.log(JSON.stringify(m)); w.process.kill('SIGKILL'); process.exit(0); });
      setTimeout(() => { console.log('TIMEOUT'); w.process.kill('SIGKILL'); process.exit(2); }, 12000).unref();
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      const server = net.createServer();
      const events = [];
      server.on('listening', () => events.push('listening'));
      server.on('close', () => events.push('close'));
      server.listen(0, '127.0.0.1');
      server.close((err) => events.push('cb ' + (err ? err.code : 'ok')));
      setTimeout(() => process.send({ events, listening: server.listening, address: server.address() }), 300);
    }
  `;
}

for (const [lib] of libs) {
  test(`${lib}: cluster round-robin: a worker at maxConnections declines, and the primary hands the connection to another worker`, { timeout: 30000 }, async () => {
    const r = await runChild(maxConnectionsScript(lib), 20000);
    assert.equal(r.killed, false, `stdout ${r.stdout} stderr ${r.stderr}`);
    assert.equal(r.code, 0, `stdout ${r.stdout} stderr ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.deepEqual(JSON.parse(line!), { served: 6 });
  });

  test(`${lib}: cluster: close() before the primary answered the listen calls back with ERR_SERVER_NOT_RUNNING and never listens`, { timeout: 30000 }, async () => {
    const r = await runChild(closeBeforeListenedScript(lib), 20000);
    assert.equal(r.code, 0, `stdout ${r.stdout} stderr ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.deepEqual(JSON.parse(line!), { events: ['close', 'cb ERR_SERVER_NOT_RUNNING'], listening: false, address: null });
  });
}

/** worker.disconnect() while the worker's server still holds a connection that closes later. */
function disconnectScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    import nodeNet from 'node:net';
    if (cluster.isPrimary) {
      const w = cluster.fork();
      setTimeout(() => { console.log('HANG'); w.process.kill('SIGKILL'); process.exit(2); }, 10000).unref();
      w.on('listening', (address) => {
        const c = nodeNet.connect(address.port, '127.0.0.1', () => {
          setTimeout(() => { w.disconnect(); setTimeout(() => c.destroy(), 200); }, 200);
        });
        c.on('error', () => {});
      });
      w.on('exit', (code) => { console.log(JSON.stringify({ exited: code })); process.exit(0); });
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1');
    }
  `;
}

for (const [lib] of libs) {
  test(`${lib}: cluster: a worker disconnected while a connection is open exits once that connection closes`, { timeout: 30000 }, async () => {
    for (let i = 0; i < 3; i++) {
      const r = await runChild(disconnectScript(lib), 20000);
      assert.equal(r.code, 0, `run ${i}: stdout ${r.stdout} stderr ${r.stderr}`);
      assert.ok(r.stdout.includes('{"exited":0}'), r.stdout);
    }
  });
}

/**
 * A worker's shared listen with no host, and on a Unix path: listening as the primary answers,
 * and close() closes it (the primary's connect is then refused, the socket file is gone).
 */
function closeSharedScript(lib: string, dir: string): string {
  return `
    import cluster from 'node:cluster';
    import nodeNet from 'node:net';
    import fs from 'node:fs';
    if (cluster.isPrimary) {
      const w = cluster.fork();
      setTimeout(() => { console.log('TIMEOUT'); w.process.kill('SIGKILL'); process.exit(2); }, 12000).unref();
      const seen = [];
      w.on('message', (m) => {
        if (m.done) { console.log(JSON.stringify(seen)); w.process.kill('SIGKILL'); process.exit(0); }
        const c = m.path ? nodeNet.connect(m.path) : nodeNet.connect(m.port, '127.0.0.1');
        c.on('connect', () => { seen.push({ ...m.report, client: 'connected' }); c.destroy(); w.send('next'); });
        c.on('error', (e) => { seen.push({ ...m.report, client: e.code, file: m.path ? fs.existsSync(m.path) : null }); w.send('next'); });
      });
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      for (const form of ['no host', 'unix']) {
        const server = net.createServer((s) => s.destroy());
        const path = ${JSON.stringify(dir)} + '/cluster.sock';
        if (form === 'unix') server.listen(path); else server.listen(0);
        const atOnce = server.listening;
        await new Promise((r) => server.once('listening', r));
        const a = server.address();
        const closed = await new Promise((r) => server.close((e) => r(e ? e.code : 'ok')));
        const report = { form, atOnce, listening: server.listening, closed };
        process.send(typeof a === 'string' ? { path: a, report } : { port: a.port, report });
        await new Promise((r) => process.once('message', r));
      }
      process.send({ done: true });
    }
  `;
}

for (const [lib] of libs) {
  test(`${lib}: cluster: a shared listen with no host, and on a Unix path, listens through the primary and close() closes it`, { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'wasinet-cluster-'));
    try {
      const r = await runChild(closeSharedScript(lib, dir), 20000);
      assert.equal(r.code, 0, `stdout ${r.stdout} stderr ${r.stderr}`);
      const line = r.stdout.split('\n').find((l) => l.startsWith('['));
      assert.deepEqual(JSON.parse(line!), [
        { form: 'no host', atOnce: false, listening: false, closed: 'ok', client: 'ECONNREFUSED', file: null },
        { form: 'unix', atOnce: false, listening: false, closed: 'ok', client: 'ENOENT', file: false },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A worker's shared listen that the primary cannot bind (its port taken): cluster's bind error. */
function sharedBindErrorScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    import nodeNet from 'node:net';
    if (cluster.isPrimary) {
      const taken = nodeNet.createServer().listen(0, '127.0.0.1', () => {
        const w = cluster.fork({ WASINET_TAKEN: String(taken.address().port) });
        setTimeout(() => { console.log('TIMEOUT'); w.process.kill('SIGKILL'); process.exit(2); }, 12000).unref();
        w.on('message', (m) => { console.log(JSON.stringify({ ...m, port: m.port === taken.address().port ? 'TAKEN' : m.port })); w.process.kill('SIGKILL'); process.exit(0); });
      });
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      const port = Number(process.env.WASINET_TAKEN);
      const server = net.createServer();
      server.on('error', (e) => process.send({ message: e.message.replace(String(port), 'TAKEN'), keys: Object.keys(e), code: e.code, syscall: e.syscall, port: e.port, listening: server.listening }));
      server.listen(port, '127.0.0.1');
    }
  `;
}

for (const [lib] of libs) {
  test(`${lib}: cluster: a shared listen the primary cannot bind fails with cluster's bind error (no description, Node's keys)`, { timeout: 30000 }, async () => {
    const r = await runChild(sharedBindErrorScript(lib), 20000);
    assert.equal(r.code, 0, `stdout ${r.stdout} stderr ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.deepEqual(JSON.parse(line!), {
      message: 'bind EADDRINUSE 127.0.0.1:TAKEN', keys: ['errno', 'code', 'syscall', 'address', 'port'],
      code: 'EADDRINUSE', syscall: 'bind', port: 'TAKEN', listening: false,
    });
  });
}

/** The primary's view of a worker's listen: the worker's own message from its listen callback, then cluster's 'listening'. */
function listeningOrderScript(lib: string): string {
  return `
    import cluster from 'node:cluster';
    if (cluster.isPrimary) {
      const w = cluster.fork();
      const seen = [];
      setTimeout(() => { console.log('TIMEOUT'); w.process.kill('SIGKILL'); process.exit(2); }, 12000).unref();
      const done = () => { if (seen.length < 2) return; console.log(JSON.stringify(seen)); w.process.kill('SIGKILL'); process.exit(0); };
      w.on('message', (m) => { seen.push('worker: ' + m); done(); });
      cluster.on('listening', () => { seen.push('cluster listening'); done(); });
    } else {
      const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
      net.createServer().listen(0, '127.0.0.1', () => process.send('listen callback'));
    }
  `;
}

for (const [lib] of libs) {
  test(`${lib}: cluster: the primary hears the worker's listen callback before cluster's 'listening'`, { timeout: 30000 }, async () => {
    const r = await runChild(listeningOrderScript(lib), 20000);
    assert.equal(r.code, 0, `stdout ${r.stdout} stderr ${r.stderr}`);
    const line = r.stdout.split('\n').find((l) => l.startsWith('['));
    assert.deepEqual(JSON.parse(line!), ['worker: listen callback', 'cluster listening']);
  });
}
