// The timeline page (issue 14.4): `wasinet replay FILE --html out.html` on a real recording (the
// ping/pong application and a refused connection) and on an altered copy that diverges; a real
// headless Chromium loads each page, and the test reads what it rendered from the DOM (lanes,
// one mark per input, the details of a clicked input, the divergence, no script errors) and keeps
// a screenshot beside the trace. Skipped, saying why, when no Chromium is installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createStack, readTrace, rewriteTrace, type InputRecord } from '../../host/index.js';
import { pingpong } from './apps/pingpong.js';
import { sockPath } from './helpers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cli = join(root, 'bin/wasinet.js');

function browser(): string | null {
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

const chrome = browser();
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--window-size=1400,800'];

function dumpDom(url: string): string {
  const r = spawnSync(chrome!, [...flags, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function screenshot(url: string, png: string): void {
  const r = spawnSync(chrome!, [...flags, `--screenshot=${png}`, url], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const bytes = readFileSync(png);
  assert.ok(bytes.length > 1000 && bytes.subarray(1, 4).toString() === 'PNG', 'a PNG screenshot');
}

const count = (html: string, re: RegExp): number => (html.match(re) ?? []).length;

async function recording(): Promise<{ file: string; inputs: InputRecord[] }> {
  const file = sockPath('timeline').replace(/\.sock$/, '.trace');
  const net = createStack({ record: file });
  await pingpong(net, false);
  // A refused connection: an error on its own lane.
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as { port: number }).port;
  await new Promise((r) => closed.close(r));
  await new Promise<void>((resolve) => net.connect(port, '127.0.0.1').on('error', () => resolve()));
  await net.recorder!.close();
  const inputs = readTrace(file).records.filter((x): x is InputRecord => x.kind === 'input');
  return { file, inputs };
}

test('the timeline of a recording renders in Chromium: lanes, a mark per input, details on click, no script errors', { skip: chrome ? false : 'no chromium (install Debian\'s chromium to run it)' }, async () => {
  const { file, inputs } = await recording();
  const out = file.replace(/\.trace$/, '.html');
  const r = spawnSync(process.execPath, [cli, 'replay', file, '--html', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const page = readFileSync(out, 'utf8');
  assert.doesNotMatch(page, /<(script|link|img)[^>]+(src|href)=/i, 'self-contained: nothing loaded from elsewhere');

  const refused = inputs.find((x) => x.name === 'onConnect' && x.args[1] !== 0)!;
  assert.ok(refused, 'the trace has the refused connect');
  const dom = dumpDom(`${pathToFileURL(out).href}#input=${refused.seq + 1}`);
  assert.match(dom, /<body[^>]*data-rendered="(\d+)"/);
  assert.equal(Number(/data-rendered="(\d+)"/.exec(dom)![1]), inputs.length);
  assert.doesNotMatch(dom, /data-errors=/, `no script errors: ${/data-last-error="([^"]*)"/.exec(dom)?.[1]}`);
  // A lane per socket and listener (listener, client, accepted, the closed listener, the refused client) and the stack's.
  assert.equal(count(dom, /class="lane"/g), 6);
  assert.equal(count(dom, /class="mark /g), inputs.length);
  assert.ok(count(dom, /class="mark error/g) >= 1, 'the refused connect is an error mark');
  assert.ok(count(dom, /class="mark data/g) >= 6, 'data marks: the writes and reads');
  // (Its local name only where the transport gave it at connect: the node backend's libuv transport asks on first use.)
  assert.match(dom, /client h=2 (127\.0\.0\.1:\d+ )?→ 127\.0\.0\.1:\d+/);
  assert.match(dom, /↓ 5 B in · ↑ 14 B out/, 'bytes each way (PO + NG\\n in; PING\\n + BAD "PO"\\n out)');
  // The clicked input's details.
  const details = /<div id="details">([\s\S]*?)<\/div>/.exec(dom)![1];
  assert.match(details, new RegExp(`input #${refused.seq + 1}\\b`));
  assert.match(details, /onConnect h=\d+ failed ECONNREFUSED \(connect\)/);
  assert.match(dom, /class="mark error api|class="mark error on[^"]*selected/);

  const png = join(dirname(file), 'timeline.png');
  screenshot(pathToFileURL(out).href, png);
  console.log(`screenshot: ${png} (${statSync(png).size} B)`);
});

test('the timeline of a replay that diverges marks the divergence and opens it', { skip: chrome ? false : 'no chromium' }, async () => {
  const { file, inputs } = await recording();
  // Move one write confirmation's flushed count: the core's answer changes there.
  const written = inputs.find((x) => x.name === 'onWritten')!;
  const altered = file.replace(/\.trace$/, '-altered.trace');
  await rewriteTrace(file, altered, (x) => (x.kind === 'input' && x.seq === written.seq ? { ...x, args: [x.args[0], x.args[1] - 1, x.args[2]] } : x));
  const out = altered.replace(/\.trace$/, '.html');
  const r = spawnSync(process.execPath, [cli, 'replay', altered, '--html', out], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.ok(existsSync(out));
  const dom = dumpDom(pathToFileURL(out).href);
  assert.doesNotMatch(dom, /data-errors=/);
  assert.match(dom, new RegExp(`replay diverged at input ${written.seq + 1}`));
  assert.equal(count(dom, /class="divline"/g), 6, 'a line across every lane');
  assert.match(/<div id="details">([\s\S]*?)<\/div>/.exec(dom)![1], /the replay diverged here/);
  screenshot(pathToFileURL(out).href, join(dirname(file), 'timeline-diverged.png'));
});
