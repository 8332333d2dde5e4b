// Under the register hook, while recording, a program's plain http2 client (`http2.connect` to an
// `http:` authority, what gRPC and other h2c clients do) connects through wasinet
// (host/register/http.ts routeHttp2): the trace has the exchange, and the program replays with no
// server. Its server here is node:http2's, in this process, not hooked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sockPath, portOf } from './helpers.js';

const root = join(import.meta.dirname, '..', '..', '..');

test('hook: an unmodified h2c client (http2.connect to http:) records its exchange and replays it with no server', { timeout: 60000 }, async () => {
  const server = http2.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(req.url === '/echo' ? Buffer.concat(chunks) : `h2c says hello ${req.url}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = portOf(server);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.WASINET_RECORD;
  delete env.WASINET_REPLAY;
  delete env.WASINET_TLS;
  delete env.WASINET_HTTP;
  const file = sockPath('h2c-client').replace(/\.sock$/, '.trace');
  // Asynchronous: the server is in this process.
  const run = async (args: string[], more: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> => {
    const child = spawn(process.execPath, [...args, join(root, 'build/tests/host/apps/h2c-client-app.js'), String(port)], { cwd: root, env: { ...env, ...more } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, `${args.join(' ')} ${JSON.stringify(more)}: ${stdout}\n${stderr}`);
    return { stdout, stderr };
  };
  const expected = [
      'GET /a: 200 text/plain', '  17 B h2c says hello /a',
      'POST /echo: 200 text/plain', '  102400 B 8b77ec70310a4f69',
      'GET /b: 200 text/plain', '  17 B h2c says hello /b',
      'connected h2c false',
      'GET /c: 200 text/plain', '  17 B h2c says hello /c',
      'done', ''].join('\n');
  try {
    const plain = await run([]);
    assert.equal(plain.stdout, expected);
    const hooked = await run(['--import', 'wasinet/register']);
    assert.equal(hooked.stdout, expected);
    const recorded = await run(['--import', 'wasinet/register'], { WASINET_RECORD: file });
    assert.equal(recorded.stdout, expected);
    const trace = readFileSync(file);
    for (const text of ['PRI * HTTP/2.0', 'h2c says hello /a', 'h2c says hello /c']) {
      assert.ok(trace.includes(Buffer.from(text)), `the trace has "${text}"`);
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
  // No server now: the replay gives the program what the server said.
  for (let i = 0; i < 2; i++) {
    const again = spawnSync(process.execPath, ['--import', 'wasinet/register', join(root, 'build/tests/host/apps/h2c-client-app.js'), String(port)],
      { cwd: root, env: { ...env, WASINET_REPLAY: file }, encoding: 'utf8', timeout: 30000 });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, expected);
    assert.match(again.stderr, /wasinet replay: the application followed the recording/);
  }
  rmSync(file, { force: true });
});
