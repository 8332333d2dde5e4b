// The core's only import besides WASI's diagnostics (fd_write, proc_exit).
//
// Every output of the core, command or notification, is one call of `out`. The host must not
// call back into the core from inside it: it copies `data` (valid only during the call) and
// queues the record, then acts on the queue once the export that caused it has returned.
// See docs/abi.md for the meaning of each op and its arguments.
@external("wasinet", "out")
export declare function out(op: u32, h: u32, a: f64, b: f64, c: f64, ptr: usize, len: u32): void;
