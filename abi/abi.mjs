// The single source of the boundary between the Wasm core and its host.
//
// scripts/gen-abi.mjs turns this file into assembly/abi.ts (the core's constants) and
// host/core/abi.ts (the host's constants and name tables); a test checks that both are up to
// date. docs/abi.md explains every entry. Numbers are part of the ABI: append, never renumber.

export const ABI_VERSION = 2;

// Errors cross the boundary as these small positive numbers (0 means success). The names are
// libuv's; the host maps a name to the platform's errno (util.getSystemErrorMap) when it builds
// a Node-style error, so a trace recorded on one OS replays on another.
export const ERRNOS = [
  'UNKNOWN', 'EACCES', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EAGAIN', 'EALREADY',
  'EBADF', 'EBUSY', 'ECANCELED', 'ECONNABORTED', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH',
  'EINVAL', 'EISCONN', 'EMFILE', 'ENAMETOOLONG', 'ENETDOWN', 'ENETUNREACH', 'ENOBUFS',
  'ENOENT', 'ENOMEM', 'ENOTCONN', 'ENOTSOCK', 'ENOTSUP', 'EPERM', 'EPIPE', 'EPROTO',
  'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'EAI_ADDRFAMILY', 'ENOTDIR',
  'EISDIR', 'EEXIST', 'EIO', 'EINTR', 'ENOSYS', 'ENOSPC', 'ENXIO',
  'EDQUOT', // a stack's byte quota (limits.sent / limits.received) is used up
];

// Which operation an error belongs to; becomes the `syscall` of the Node error.
export const SYSCALLS = ['none', 'connect', 'read', 'write', 'shutdown', 'listen', 'accept', 'getaddrinfo', 'bind', 'close', 'reset'];

// Outputs: the core calls one import, out(op, h, a, b, c, ptr, len). Commands go to the
// transport (the backend); notifications go to host/net. `data` is the bytes [ptr, ptr+len),
// valid only during the call: the host copies what it keeps. Several strings in `data` are
// separated by a NUL byte.
export const COMMANDS = [
  ['RESOLVE', 'h', 'a: family (0, 4, 6), b: hints, c: 1 = all addresses', 'data: host name'],
  ['CONNECT', 'h', 'a: port, b: family (4, 6; 0 = IPC path), c: localPort', 'data: address NUL localAddress'],
  ['LISTEN', 'h', 'a: port, b: backlog, c: LISTEN_* flags', 'data: address or path'],
  ['READ_START', 'h', '', ''],
  ['READ_STOP', 'h', '', ''],
  ['WRITE', 'h', '', 'data: the bytes to send'],
  ['SHUTDOWN', 'h', '', ''],
  ['CLOSE', 'h', 'a: 1 = reset (RST) instead of a graceful close', ''],
  ['SET_OPTION', 'h', 'a: OPT_*, b: value, c: second value', ''],
  ['REF', 'h', 'a: 1 = keep the process alive, 0 = do not', ''],
  ['TIMER', '0', 'a: sequence number (a host ignores a TIMER older than one it applied), c: deadline (ms, same clock as now), or -1 for none', ''],
  ['OPEN', 'h', 'a: file descriptor of an existing socket or pipe, b: 1 = a is the host\'s token for a stream handle object instead', ''],
];

export const NOTIFICATIONS = [
  ['CONNECT_ATTEMPT', 'h', 'a: port, b: family', 'data: address'],
  ['CONNECT_ATTEMPT_FAILED', 'h', 'a: port, b: family, c: errno', 'data: address [NUL local address:port, when the connect call failed at once]'],
  ['CONNECT_ATTEMPT_TIMEOUT', 'h', 'a: port, b: family', 'data: address'],
  ['CONNECTED', 'h', 'a: localPort, b: family, c: remotePort', 'data: localAddress NUL remoteAddress'],
  ['DATA', 'h', '', 'data: bytes received'],
  ['EOF', 'h', '', ''],
  ['WRITABLE', 'h', '', ''],
  ['WRITE_DONE', 'h', 'a: status', ''],
  ['SHUTDOWN_DONE', 'h', 'a: status', ''],
  ['TIMEOUT', 'h', '', ''],
  ['ERROR', 'h', 'a: errno, b: SYSCALL_*, c: port', 'data: address [NUL local address:port, when a connect call failed at once]'],
  ['CLOSED', 'h', '', ''],
  ['LISTENING', 'h', 'a: port, b: family', 'data: address or path'],
  ['LISTEN_ERROR', 'h', 'a: errno, b: SYSCALL_*, c: port when the sandbox refused (else 0)', 'data: the address the transport failed on (may be empty)'],
  ['CONNECTION', 'h', 'a: new socket handle, b: family, c: localPort | remotePort << 16', 'data: localAddress NUL remoteAddress'],
  ['DROP', 'h', 'a: dropped socket handle, b: family, c: localPort | remotePort << 16', 'data: localAddress NUL remoteAddress'],
  ['SERVER_DRAINED', 'h', '', ''],
  ['ATTEMPTS_FAILED', 'h', '', ''],
  ['USER_TIMER', 'h', 'a: timer id', ''],
  ['FLUSH_LATER', '0', '', ''],
];

export const LISTEN_FLAGS = [
  ['IPC', 1], ['IPV6_ONLY', 2], ['EXCLUSIVE', 4], ['READABLE_ALL', 8], ['WRITABLE_ALL', 16],
  ['FD', 32], ['FAMILY6', 64], ['FAMILY4', 128], ['HANDLE', 256],
];

export const OPTIONS = [['NO_DELAY', 1], ['KEEP_ALIVE', 2]];

// A flag of onConnect's `op` on failure: the connect call itself failed (no attempt was in
// flight); the data is then the local address the socket had, `address:port`.
export const CONNECT_AT_ONCE = 256;

// out() with op 0 is no record but a request: the core is about to read `len` bytes of the
// current input's payload at `ptr` (in scratch). A host that offered the payload without
// copying it in (apiWrite) copies it there now, before out() returns; otherwise it ignores it.
export const OP_FILL = 0;

// What a host handles beyond the above, told to the core once with hostFeatures(bits) before any
// input (a core of an older host never hears it, and keeps to the plain forms):
// FILL_AT: a FILL may name any destination in the core's memory, with `b` 1 and `a` the offset
// of the bytes in the input's payload (the core then copies nothing out of scratch itself).
// GATHER: a WRITE with `b` 1 carries, instead of the bytes, a table of `len / 8` runs
// [ptr u32][len u32] of the core's memory: the WRITE's bytes are the runs, in order.
export const HOST_FEATURES = [['FILL_AT', 1], ['GATHER', 2]];

// The most an apiWrite may offer. A host without FILL_AT puts the payload in scratch, so it
// offers at most scratchSize(); one with FILL_AT that keeps the payload in its own buffer may
// offer up to this (the core then reads none of it from scratch).
export const WRITE_LIMIT = 1 << 30;

// Socket states (one enum, one setState in the core; docs/abi.md has the diagram).
export const SOCKET_STATES = [
  'IDLE', 'RESOLVING', 'CONNECTING', 'OPEN', 'ENDING', 'FIN_WAIT', 'WRITE_ENDED',
  'READ_ENDED', 'LAST_ENDING', 'LAST_ACK', 'DONE', 'CLOSING', 'CLOSED',
];

// Listener states (one enum, one setState in the core; the host reads them with listenerState(h)).
export const LISTENER_STATES = ['BINDING', 'LISTENING', 'CLOSED', 'FAILED'];
