// Shared by the plugin tests: where the built guests are, starting one that listens on port 0
// and learning its port from its log, and a node:net peer that watches a connection.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { after } from 'node:test';
import { loadPlugin, type Plugin, type PluginOptions } from '../../host/plugin/load.js';
import { until } from './helpers.js';

// Every plugin a test starts is stopped when its file ends, so a test that fails half-way does
// not leave a worker thread keeping the test process alive.
const started = new Set<Plugin>();
after(async () => { await Promise.all([...started].map((p) => p.stop())); });

/** loadPlugin, and stop the plugin at the end of the test file whatever happens. */
export function loadTracked(...args: Parameters<typeof loadPlugin>): Plugin {
  const plugin = loadPlugin(...args);
  started.add(plugin);
  void plugin.exited.then(() => started.delete(plugin));
  return plugin;
}

export const root = fileURLToPath(new URL('../../..', import.meta.url));
export const plugins = join(root, 'build/plugins');
export const guests = join(root, 'build/tests/guests');
export const cli = join(root, 'bin/wasinet.js');

export interface Started {
  plugin: Plugin;
  port: number;
  /** Everything the guest printed so far. */
  out: () => string;
}

/** Loads `file` with `args`, waits until it logs "listening … :PORT", returns the port. */
export async function startListening(file: string, args: string[], options: PluginOptions = {}): Promise<Started> {
  let text = '';
  const plugin = loadTracked(file, { ...options, args, stdout: (t) => { text += t; } });
  let ended = false;
  void plugin.exited.then(() => { ended = true; });
  await until(() => /listening.*:(\d+)/.test(text) || ended, 10_000, 'the plugin to listen');
  const m = /listening.*:(\d+)/.exec(text);
  if (!m) throw new Error(`the plugin did not listen: ${text} ${JSON.stringify(await plugin.exited)}`);
  return { plugin, port: Number(m[1]), out: () => text };
}

/** A node:net connection that records whether it saw 'end' and 'close' (errors are recorded, not thrown). */
export function watch(port: number): { socket: net.Socket; ended: () => boolean; closed: Promise<void>; error: () => string | null; received: () => number } {
  const socket = net.connect(port, '127.0.0.1');
  let ended = false, error: string | null = null, received = 0;
  socket.on('data', (d) => { received += d.length; });
  socket.on('end', () => { ended = true; });
  socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, ended: () => ended, closed, error: () => error, received: () => received };
}
