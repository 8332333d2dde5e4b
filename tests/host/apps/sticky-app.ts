// "Sticky sessions" over node:cluster (tests/host/child-send.test.ts): the primary accepts with
// pauseOnConnect and hands each connection to a worker in turn with worker.send(); each worker
// feeds it to its http server with emit('connection'). Unmodified: run on plain Node, or with
// `--import wasinet/register` (the primary's server and, in the workers, the sockets they get
// and their http server are then wasinet's). Prints one JSON line.
import cluster from 'node:cluster';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

if (cluster.isPrimary) {
  const workers = [cluster.fork(), cluster.fork()];
  let next = 0;
  let online = 0;
  const server = net.createServer({ pauseOnConnect: true }, (c) => { workers[next++ % 2].send('sticky:connection', c); });
  const ask = (port: number, path: string) => new Promise<string>((resolve, reject) => {
    http.get({ port, host: '127.0.0.1', path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const go = async () => {
    const port = (server.address() as AddressInfo).port;
    const got: string[] = [];
    for (let k = 0; k < 6; k++) got.push(await ask(port, `/${k}`));
    const pids = got.map((s) => s.split(' ').pop());
    // Turn by turn: connection k went to worker k % 2.
    const alternate = pids.every((p, k) => p === pids[k % 2]) && pids[0] !== pids[1];
    console.log(JSON.stringify({ got: got.map((s) => s.replace(/ \d+$/, '')), alternate, wasinet: 'createStack' in net }));
    server.close();
    for (const w of workers) w.kill();
  };
  // A worker says when it listens for connections (its module may load after 'online').
  for (const w of workers) w.once('message', () => { if (++online === 2) server.listen(0, '127.0.0.1', () => void go()); });
} else {
  const server = http.createServer((req, res) => res.end(`${req.url} from ${process.pid}`));
  process.on('message', (m: string, c: net.Socket) => {
    if (m !== 'sticky:connection') return;
    server.emit('connection', c);
    c.resume();
  });
  process.send!('ready');
}
