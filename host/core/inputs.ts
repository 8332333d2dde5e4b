// The core's inputs as a trace numbers them: one id per export, its argument count (after
// `now`) and whether it carries a payload in scratch. The order is part of trace format 2
// (docs/replay.md): append only.
export interface InputInfo {
  readonly id: number;
  readonly name: string;
  readonly argc: number;
  readonly payload: boolean;
  /** An application call (api*): checked when an application replays; else from the transport. */
  readonly api: boolean;
}

const TABLE: ReadonlyArray<[string, number, boolean]> = [
  // id 0 is no input: the trace's meta records.
  ['apiSocket', 0, false],
  ['apiConnect', 8, true],
  ['apiOpen', 3, false],
  ['apiWrite', 3, true],
  ['apiEnd', 1, false],
  ['apiRead', 2, false],
  ['apiPause', 1, false],
  ['apiDestroy', 2, false],
  ['apiSetTimeout', 2, false],
  ['apiSetOption', 4, false],
  ['apiRef', 2, false],
  ['apiRefreshTimeout', 1, false],
  ['apiFlush', 0, false],
  ['apiListen', 6, true],
  ['apiServerClose', 1, false],
  ['apiSetMaxConnections', 2, false],
  ['apiTimerSet', 2, false],
  ['apiTimerClear', 1, false],
  ['onResolved', 3, true],
  ['onConnect', 8, true],
  ['onBound', 1, false],
  ['onData', 2, true],
  ['onEof', 1, false],
  ['onWritten', 3, false],
  ['onShutdown', 2, false],
  ['onError', 3, false],
  ['onClosed', 1, false],
  ['onTimer', 0, false],
  ['onListening', 6, true],
  ['onConnection', 5, true],
  // The sandbox (docs/sandbox.md): the stack gives each new core its policy and limits. They
  // are the stack's configuration, not the application's calls: a replay feeds them from the trace.
  ['apiPolicy', 1, true],
  ['apiLimits', 7, false],
  // The local name, told when the application first asks for it (transports that leave it out
  // at connect: the node backend's IPv4 clients).
  ['apiLocalName', 3, true],
  // The peer's name, likewise (the node backend's accepted TCP sockets leave both out).
  ['apiPeerName', 3, true],
  // How far TCP sockets batch a turn's writes, as the stack's backend asks (the node backends):
  // configuration, fed from the trace by a replay, as the policy and limits are.
  ['apiBatching', 2, false],
];
const CONFIG = new Set(['apiPolicy', 'apiLimits', 'apiBatching']);

export const INPUTS: readonly InputInfo[] = TABLE.map(([name, argc, payload], i) => ({
  id: i + 1, name, argc, payload, api: name.startsWith('api') && !CONFIG.has(name),
}));

const byName = new Map(INPUTS.map((x) => [x.name, x]));

export function inputInfo(name: string): InputInfo {
  const x = byName.get(name);
  if (x === undefined) throw new Error(`not an input of the core: ${name}`);
  return x;
}

/** The id of input `name`, or 0 when the table has none of that name (a test build's own export). */
export function inputId(name: string): number {
  return byName.get(name)?.id ?? 0;
}

export function inputById(id: number): InputInfo | undefined {
  return INPUTS[id - 1];
}

/**
 * The handle an input is about: its first argument, or the handle it returned. (apiPolicy's and
 * apiLimits' first arguments count as handles too: their traces' state digests were taken so.)
 */
export function inputHandle(name: string, args: ArrayLike<number>, result: number): number {
  if (name === 'apiSocket' || name === 'apiListen' || name === 'onConnection') return result;
  if (name === 'onTimer' || name === 'apiTimerSet' || name === 'apiTimerClear' || name === 'apiFlush' || name === 'apiBatching') return 0;
  return args[0] ?? 0;
}
