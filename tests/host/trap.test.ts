// A trap inside the core must not take the process down: the stack's sockets are destroyed
// with an error naming the core's message, and a fresh core serves the stack's next use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStack } from '../../host/index.js';
import { stackOf } from '../../host/net/create.js';

test('a trap in the core destroys the stack\'s sockets with the core\'s message, then the stack works again', { timeout: 10000 }, async () => {
  const net = createStack({ coreBuild: 'testing.wasm' });
  const serverErrors: Error[] = [];
  const server = net.createServer((s: any) => s.on('error', (e: Error) => serverErrors.push(e)));
  server.on('error', (e) => serverErrors.push(e));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const events: string[] = [];
  let clientError: Error | null = null;
  client.on('error', (e) => { clientError = e; events.push('error'); });
  client.on('close', (hadError: boolean) => events.push(`close ${hadError}`));

  stackOf(net).core.replayInput('testAbort', net.now(), [7], null);

  await new Promise((r) => client.once('close', r));
  assert.deepEqual(events, ['error', 'close true']);
  assert.ok(clientError);
  assert.equal((clientError as Error).name, 'CoreTrap');
  assert.match((clientError as Error).message, /deliberate trap for tests, code 7/);
  await new Promise((r) => setImmediate(r));
  assert.ok(serverErrors.some((e) => /code 7/.test(e.message)), 'the server heard of the trap too');

  // The same stack serves again with a fresh core.
  const server2 = net.createServer((s: any) => s.end('again'));
  await new Promise<void>((r) => server2.listen(0, '127.0.0.1', () => r()));
  const c2 = net.connect((server2.address() as { port: number }).port, '127.0.0.1');
  const got: Buffer[] = [];
  c2.on('data', (d) => got.push(d));
  await new Promise((r) => c2.on('close', r));
  assert.equal(Buffer.concat(got).toString(), 'again');
  await new Promise((r) => server2.close(r));
});
