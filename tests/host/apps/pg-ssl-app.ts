// An unmodified program: node-postgres over SSL (SSLRequest, then tls.connect({ socket }) on the
// same socket) against the PostgreSQL at PG_PORT, as PG_USER, trusting tests/fixtures' certificate.
// tests/host/realserver-postgres.test.ts records it under `--import wasinet/register` and replays it.
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ca = readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'tests/fixtures/localhost-cert.pem'));
const c = new pg.Client({ host: '127.0.0.1', port: Number(process.env.PG_PORT), user: process.env.PG_USER, database: 'postgres', ssl: { ca, servername: 'localhost' } });
await c.connect();
const ssl = (await c.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0] as { ssl: boolean; version: string };
console.log(`ssl=${ssl.ssl} version=${ssl.version}`);
const big = (await c.query("SELECT md5(repeat('wasinet', 100000)) AS m, length(repeat('wasinet', 100000)) AS n")).rows[0] as { m: string; n: number };
console.log(`md5=${big.m} length=${big.n}`);
let sum = 0;
for (let i = 0; i < 50; i++) sum += (await c.query('SELECT $1::int + 1 AS n', [i])).rows[0].n as number;
console.log(`sum=${sum}`);
await c.end();
console.log('ended');
