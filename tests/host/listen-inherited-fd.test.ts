// listen({ fd: 3 }) in a child process that inherited a listening socket from its parent (TCP
// and Unix): what address() and `listening` say, and that it accepts — node:net's and the
// library's the same. (In one process Node refuses a descriptor its loop already watches:
// EEXIST; so the socket is handed down, as a supervisor does.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodeNet from 'node:net';
import { libs } from './helpers.js';
import { libSpecifier } from './server-util.js';

function childScript(lib: string): string {
  return `
    const { default: net } = await import(${JSON.stringify(libSpecifier(lib))});
    const s = net.createServer((c) => c.end('from child'));
    s.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
    s.on('listening', () => {
      const a = s.address();
      console.log(JSON.stringify({ address: a === null ? null : typeof a === 'string' ? 'a path' : { ...a, port: typeof a.port }, listening: s.listening }));
    });
    s.listen({ fd: 3 });
    process.stdin.on('end', () => s.close());
    process.stdin.resume();
  `;
}

async function inherit(lib: string, dir: string, kind: 'tcp' | 'unix'): Promise<{ child: unknown; reply: string }> {
  const script = join(dir, `child-${kind}.mjs`);
  writeFileSync(script, childScript(lib));
  const parent = nodeNet.createServer();
  const path = join(dir, `${kind}.sock`);
  await new Promise<void>((r) => (kind === 'tcp' ? parent.listen(0, '127.0.0.1', () => r()) : parent.listen(path, () => r())));
  const port = kind === 'tcp' ? (parent.address() as { port: number }).port : 0;
  // A stream-like object whose _handle is the listening socket: spawn passes its descriptor as fd 3.
  const handed = { _handle: (parent as unknown as { _handle: object })._handle, pause() {}, resume() {}, _readableState: {} };
  const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit', handed as never] });
  const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  await new Promise<void>((resolve) => { const t = setInterval(() => { if (out.includes('\n')) { clearInterval(t); resolve(); } }, 10); });
  if (kind === 'unix') renameSync(path, `${path}.2`); // the parent's close must not unlink the child's
  await new Promise((r) => parent.close(r));
  let reply = '';
  if (!out.includes('"error"')) {
    const c = kind === 'tcp' ? nodeNet.connect(port, '127.0.0.1') : nodeNet.connect(`${path}.2`);
    c.setEncoding('utf8');
    c.on('data', (d) => { reply += d; });
    c.on('error', (e) => { reply = `error ${(e as NodeJS.ErrnoException).code}`; });
    await new Promise((r) => c.on('close', r));
  }
  child.stdin!.end();
  await new Promise((r) => child.on('exit', r));
  clearTimeout(killer);
  return { child: JSON.parse(out.trim().split('\n')[0]), reply };
}

test('listen({ fd: 3 }) on an inherited TCP and Unix listening socket: address(), listening and a connection, as on node:net', { timeout: 60000 }, async () => {
  const dir = mkdtempSync(join(process.env.WASINET_TEST_TMP ?? tmpdir(), 'wasinet-fd-'));
  try {
    for (const kind of ['tcp', 'unix'] as const) {
      const expected = await inherit('node:net', dir, kind);
      assert.equal(expected.reply, 'from child', kind);
      for (const [name] of libs) {
        if (name === 'node:net') continue;
        assert.deepEqual(await inherit(name, dir, kind), expected, `${name} ${kind}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
