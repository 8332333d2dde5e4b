// createStack({ policy, limits }): the user's rules and limits, checked and encoded for the core.
//
// The host only reads the user's strings and says what is wrong with them (Node-style errors);
// the core decides (assembly/policy.ts, assembly/limits.ts). The table layout is documented in
// assembly/policy.ts and docs/sandbox.md. IP addresses and IPC paths travel as text: the core
// parses and normalises them with the same code it uses on the addresses and paths it checks.
import { isIP } from './ip.js';
import { ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE } from './errors.js';

export interface PolicyOptions {
  /** `HOST:PORTS` rules for connect(). */
  connect?: readonly string[];
  /** `HOST:PORTS` rules for listen(). */
  listen?: readonly string[];
  /** IPC path prefixes, for connect and listen (an abstract name needs a rule starting with '\0'). */
  ipc?: readonly string[];
  /** Whether new Socket({ fd }), listen({ fd }) and listen(handle) are allowed (default false). */
  fd?: boolean;
}

export interface LimitOptions {
  sockets?: number;
  listeners?: number;
  socketBuffer?: number;
  stackBuffer?: number;
  sent?: number;
  received?: number;
  coreMemory?: number;
}

/** The limits in the order apiLimits takes them. */
export const LIMIT_NAMES = ['sockets', 'listeners', 'socketBuffer', 'stackBuffer', 'sent', 'received', 'coreMemory'] as const;

const LIST_CONNECT = 1;
const LIST_LISTEN = 2;
const LIST_IPC = 3;
const KIND_ANY = 0;
const KIND_NAME = 1;
const KIND_SUFFIX = 2;
const KIND_PATH = 3;
const KIND_IP = 4;

interface Rule { list: number; kind: number; lo: number; hi: number; prefix: number; text: Buffer }

const NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

function bad(name: string, value: unknown, why: string): Error {
  return ERR_INVALID_ARG_VALUE(name, value, why);
}

function ports(name: string, rule: string, text: string): [number, number] {
  if (text === '*') return [0, 65535];
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(name, rule, 'has no valid port: use a port, a range a-b, or *');
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  if (lo > 65535 || hi > 65535 || lo > hi) throw bad(name, rule, 'has a port out of 0-65535 or a range a-b with a > b');
  return [lo, hi];
}

/** One `HOST:PORTS` rule. */
function hostRule(list: number, name: string, rule: unknown): Rule {
  if (typeof rule !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', rule);
  let host: string;
  let portText: string;
  if (rule.startsWith('[')) {
    const m = /^\[([^\]]+)\](\/\d{1,3})?:([^:]+)$/.exec(rule);
    if (!m || isIP(m[1]) !== 6) throw bad(name, rule, 'is not a valid rule: an IPv6 address goes in brackets, [::1]:PORTS');
    host = m[1] + (m[2] ?? '');
    portText = m[3];
  } else {
    const cut = rule.lastIndexOf(':');
    if (cut <= 0) throw bad(name, rule, 'is not a valid rule: HOST:PORTS');
    host = rule.slice(0, cut);
    portText = rule.slice(cut + 1);
    if (host.includes(':')) throw bad(name, rule, 'is not a valid rule: an IPv6 address goes in brackets, [::1]:PORTS');
  }
  const [lo, hi] = ports(name, rule, portText);
  if (host === '*') return { list, kind: KIND_ANY, lo, hi, prefix: 0, text: Buffer.alloc(0) };
  const slash = host.indexOf('/');
  const addr = slash < 0 ? host : host.slice(0, slash);
  const family = isIP(addr);
  if (family) {
    let prefix = 255;
    if (slash >= 0) {
      const bits = host.slice(slash + 1);
      prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
      if (!(prefix <= (family === 4 ? 32 : 128))) throw bad(name, rule, `has an invalid prefix length /${bits}`);
    }
    return { list, kind: KIND_IP, lo, hi, prefix, text: Buffer.from(addr, 'latin1') };
  }
  if (slash >= 0) throw bad(name, rule, 'has a prefix length but no IP address');
  let lower = host.toLowerCase();
  if (lower.endsWith('.')) lower = lower.slice(0, -1);
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(2);
    if (!NAME.test(suffix)) throw bad(name, rule, 'is not a valid rule: *.suffix needs a host name after *.');
    return { list, kind: KIND_SUFFIX, lo, hi, prefix: 0, text: Buffer.from(`.${suffix}`, 'latin1') };
  }
  if (!NAME.test(lower)) throw bad(name, rule, 'is not a valid rule: HOST is an IPv4 address, [IPv6], a CIDR, a host name, *.suffix or *');
  return { list, kind: KIND_NAME, lo, hi, prefix: 0, text: Buffer.from(lower, 'latin1') };
}

function list(policy: Record<string, unknown>, key: string): readonly unknown[] {
  const v = policy[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw ERR_INVALID_ARG_TYPE(`options.policy.${key}`, 'Array', v);
  return v;
}

/** The core's policy table for `policy` (see assembly/policy.ts for the layout). */
export function encodePolicy(policy: unknown): Uint8Array {
  if (policy === null || typeof policy !== 'object') throw ERR_INVALID_ARG_TYPE('options.policy', 'Object', policy);
  const p = policy as Record<string, unknown>;
  const rules: Rule[] = [];
  list(p, 'connect').forEach((r, i) => rules.push(hostRule(LIST_CONNECT, `options.policy.connect[${i}]`, r)));
  list(p, 'listen').forEach((r, i) => rules.push(hostRule(LIST_LISTEN, `options.policy.listen[${i}]`, r)));
  list(p, 'ipc').forEach((r, i) => {
    const name = `options.policy.ipc[${i}]`;
    if (typeof r !== 'string') throw ERR_INVALID_ARG_TYPE(name, 'string', r);
    if (r === '') throw bad(name, r, 'is empty: an IPC rule is a path prefix');
    rules.push({ list: LIST_IPC, kind: KIND_PATH, lo: 0, hi: 0, prefix: 0, text: Buffer.from(r, 'utf8') });
  });
  if (p.fd !== undefined && typeof p.fd !== 'boolean') throw ERR_INVALID_ARG_TYPE('options.policy.fd', 'boolean', p.fd);
  let size = 1;
  for (const r of rules) {
    if (r.text.length > 65535) throw bad('options.policy', policy, 'has a rule longer than 65535 bytes');
    size += 9 + r.text.length;
  }
  const out = Buffer.alloc(size);
  out[0] = p.fd === true ? 1 : 0;
  let o = 1;
  for (const r of rules) {
    out[o] = r.list;
    out[o + 1] = r.kind;
    out.writeUInt16LE(r.lo, o + 2);
    out.writeUInt16LE(r.hi, o + 4);
    out[o + 6] = r.prefix;
    out.writeUInt16LE(r.text.length, o + 7);
    r.text.copy(out, o + 9);
    o += 9 + r.text.length;
  }
  return out;
}

/** The limits as apiLimits takes them (-1: none), checked as Node checks numeric options. */
export function limitValues(limits: unknown): number[] {
  if (limits === undefined) return LIMIT_NAMES.map(() => -1);
  if (limits === null || typeof limits !== 'object') throw ERR_INVALID_ARG_TYPE('options.limits', 'Object', limits);
  const l = limits as Record<string, unknown>;
  return LIMIT_NAMES.map((k) => {
    const v = l[k];
    if (v === undefined || v === Infinity) return -1;
    if (typeof v !== 'number') throw ERR_INVALID_ARG_TYPE(`options.limits.${k}`, 'number', v);
    if (!Number.isInteger(v) || v < 0) throw ERR_OUT_OF_RANGE(`options.limits.${k}`, 'an integer >= 0', v);
    return v;
  });
}
