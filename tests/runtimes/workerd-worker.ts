// The worker tests/host/workerd.test.ts runs in workerd: GET /?scenario=<index>&port=<port> runs
// that client scenario (client-scenarios.ts) with wasinet on the workerd backend against the
// test process's server and answers with its log as JSON; GET /backend names the backend the
// default stack got. The test bundles this file with a three-line entry that imports the
// precompiled modules and calls configure() (the workerd section of docs/embedding.md).
import { clientScenarios, runClient } from './client-scenarios.js';
import type { NetLike } from '../host/diff/harness.js';

export function handler(net: NetLike, backendOf: () => string): { fetch(req: Request): Promise<Response> } {
  return {
    async fetch(req: Request): Promise<Response> {
      const url = new URL(req.url);
      if (url.pathname === '/backend') return Response.json({ backend: backendOf() });
      const s = clientScenarios[Number(url.searchParams.get('scenario'))];
      if (!s) return Response.json({ error: 'no such scenario' }, { status: 404 });
      return Response.json(await runClient(s, net, Number(url.searchParams.get('port'))));
    },
  };
}
