// Reading trace format 2 (format.ts): a file's header, then its records one by one, block by
// block (a record may span blocks), following a rotated recording into its later segments.
import fs from 'node:fs';
import path from 'node:path';
import { zlib } from '../lazy.js';
import { inputById, inputInfo } from '../core/inputs.js';
import {
  MAGIC, PREAMBLE, TRACE_VERSION_2, Compression, TAG_ID, TAG_NOW_SAME, TAG_FLAGS, FLAG_NESTED, FLAG_SAME_TURN, FLAG_SAME_LOOP,
  META_CLOCK, META_NAMES, META_SEGMENT_END, META_TLS, writeHeadOf, type TraceHeader,
} from './format.js';

export interface InputRecord {
  kind: 'input';
  /** 0-based position among the recording's inputs. */
  seq: number;
  id: number;
  name: string;
  t: number;
  args: number[];
  payload: Buffer | null;
  result: number;
  outHash: number;
  digest: number;
  /** 0: from the event loop; else nested in the handling of record `index` of the input at depth - 1. */
  depth: number;
  index: number;
  sameTurn: boolean;
  /** A turn of its own, in the same iteration of the event loop as the turn before (recorders since FLAG_SAME_LOOP; false in older traces). */
  sameLoop: boolean;
  /**
   * An application's write the recording kept in part (the header's `writeHead`): `payload`
   * holds its first `head` bytes and zeros for the rest; `digest` is format.ts's writeDigest
   * of the `length` bytes written.
   */
  partial?: { length: number; head: number; digest: number };
}

export interface MetaRecord {
  kind: 'meta';
  type: string;
  data: Record<string, unknown>;
}

export type TraceRecord = InputRecord | MetaRecord;

/** True when `file` starts like a format-2 trace. */
export function isTrace2(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    return fs.readSync(fd, b, 0, 8, 0) === 8 && b.toString('latin1') === MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

export function readHeader(fd: number, file: string): { header: TraceHeader; compression: Compression; bodyAt: number } {
  const pre = Buffer.alloc(PREAMBLE);
  if (fs.readSync(fd, pre, 0, PREAMBLE, 0) !== PREAMBLE || pre.toString('latin1', 0, 8) !== MAGIC) {
    throw new Error(`${file}: not a wasinet trace (format 2)`);
  }
  if (pre[8] !== TRACE_VERSION_2) throw new Error(`${file}: trace format ${pre[8]}, this reader knows ${TRACE_VERSION_2}`);
  const len = pre.readUInt32LE(12);
  const json = Buffer.alloc(len);
  fs.readSync(fd, json, 0, len, PREAMBLE);
  return { header: JSON.parse(json.toString('utf8')) as TraceHeader, compression: pre[9] as Compression, bodyAt: PREAMBLE + len };
}

const ID_WRITE = inputInfo('apiWrite').id;

class NeedMore extends Error {}
const NEED_MORE = new NeedMore();

/** Reads a trace file (and the segments after it) record by record. */
export class TraceReader {
  readonly file: string;
  header!: TraceHeader;
  /** Headers of every segment read so far. */
  readonly segments: TraceHeader[] = [];
  #fd = -1;
  #compression: Compression = Compression.None;
  #filePos = 0;
  #fileSize = 0;
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #seq = 0;
  #lastNow = 0;
  #eof = false;
  /** The header's writeHead: apiWrite payloads longer than this were kept in part. */
  #head = Infinity;

  constructor(file: string) {
    this.file = file;
    this.#open(file);
    this.header = this.segments[0];
  }

  #open(file: string): void {
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = fs.openSync(file, 'r');
    const { header, compression, bodyAt } = readHeader(this.#fd, file);
    if (this.segments.length > 0 && header.recording !== this.segments[0].recording) {
      throw new Error(`${file}: a segment of another recording`);
    }
    this.segments.push(header);
    this.#head = writeHeadOf(header);
    this.#compression = compression;
    this.#filePos = bodyAt;
    this.#fileSize = fs.fstatSync(this.#fd).size;
    this.#lastNow = 0;
  }

  close(): void {
    if (this.#fd >= 0) fs.closeSync(this.#fd);
    this.#fd = -1;
  }

  /** Appends the next block's raw bytes to the unread ones; false at the end of the file. */
  #more(): boolean {
    if (this.#filePos + 8 > this.#fileSize) return false;
    const head = Buffer.alloc(8);
    fs.readSync(this.#fd, head, 0, 8, this.#filePos);
    const stored = head.readUInt32LE(0);
    const raw = head.readUInt32LE(4);
    if (this.#filePos + 8 + stored > this.#fileSize) return false; // a block cut short (the process died)
    const data = Buffer.allocUnsafe(stored);
    fs.readSync(this.#fd, data, 0, stored, this.#filePos + 8);
    this.#filePos += 8 + stored;
    const block = this.#compression === Compression.None ? data
      : this.#compression === Compression.Deflate ? zlib().inflateRawSync(data) : zlib().brotliDecompressSync(data);
    if (block.length !== raw) throw new Error(`${this.file}: a block of ${block.length} bytes says ${raw}`);
    const rest = this.#buf.subarray(this.#pos);
    this.#buf = rest.length ? Buffer.concat([rest, block]) : block;
    this.#pos = 0;
    return true;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#buf.length) throw NEED_MORE;
  }

  #varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      this.#need(1);
      const b = this.#buf[this.#pos++];
      v += (b & 127) * mul;
      if (b < 128) return v;
      mul *= 128;
    }
  }

  #num(): number {
    const w = this.#varint();
    if (w === 1) {
      this.#need(8);
      const v = this.#buf.readDoubleLE(this.#pos);
      this.#pos += 8;
      return v;
    }
    const z = w / 2;
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** The peer certificate chains of the `tls` records read so far, by number (recorder.ts keeps each once). */
  readonly #chains = new Map<number, unknown>();

  /** Fills a `tls` record's chain in where the recorder kept only its number. */
  #chainOf(data: Record<string, unknown>): void {
    const secure = (data.state as { secure?: { chain?: unknown; peerCertificate?: unknown } } | null)?.secure;
    if (secure === undefined || typeof secure.chain !== 'number') return;
    if (secure.peerCertificate == null) secure.peerCertificate = this.#chains.get(secure.chain) ?? null;
    else this.#chains.set(secure.chain, secure.peerCertificate);
  }

  #record(): TraceRecord {
    this.#need(1);
    const tag = this.#buf[this.#pos++];
    if (tag === 0) {
      this.#need(1);
      const kind = this.#buf[this.#pos++];
      const len = this.#varint();
      this.#need(len);
      let data: Record<string, unknown>;
      if (kind === META_CLOCK) {
        // Three numbers, not JSON (format.ts): a program may read the clock very often.
        const end = this.#pos + len;
        data = { s: this.#num(), k: this.#num(), v: this.#num() };
        this.#pos = end;
      } else {
        data = JSON.parse(this.#buf.toString('utf8', this.#pos, this.#pos + len)) as Record<string, unknown>;
        this.#pos += len;
        if (kind === META_TLS) this.#chainOf(data);
      }
      return { kind: 'meta', type: META_NAMES[kind] ?? `meta${kind}`, data };
    }
    const id = tag & TAG_ID;
    const info = inputById(id);
    if (info === undefined) throw new Error(`${this.file}: unknown input ${id} in record ${this.#seq}`);
    let flags = 0;
    let depth = 0;
    let index = 0;
    if (tag & TAG_FLAGS) {
      this.#need(1);
      flags = this.#buf[this.#pos++];
      if (flags & FLAG_NESTED) { depth = this.#varint(); index = this.#varint(); }
    }
    let t = this.#lastNow;
    if (!(tag & TAG_NOW_SAME)) {
      this.#need(8);
      t = this.#buf.readDoubleLE(this.#pos);
      this.#pos += 8;
    }
    const args: number[] = [];
    for (let i = 0; i < info.argc; i++) args.push(this.#num());
    let payload: Buffer | null = null;
    let partial: InputRecord['partial'];
    if (info.payload) {
      const len = this.#varint();
      if (id === ID_WRITE && len > this.#head) {
        const head = this.#head;
        this.#need(head + 4);
        payload = Buffer.alloc(len);
        this.#buf.copy(payload, 0, this.#pos, this.#pos + head);
        partial = { length: len, head, digest: this.#buf.readUInt32LE(this.#pos + head) };
        this.#pos += head + 4;
      } else if (len > 0) {
        this.#need(len);
        payload = Buffer.from(this.#buf.subarray(this.#pos, this.#pos + len));
        this.#pos += len;
      }
    }
    const result = this.#num();
    this.#need(8);
    const outHash = this.#buf.readUInt32LE(this.#pos);
    const digest = this.#buf.readUInt32LE(this.#pos + 4);
    this.#pos += 8;
    this.#lastNow = t;
    return {
      kind: 'input', seq: this.#seq++, id, name: info.name, t, args, payload, result, outHash, digest,
      depth, index, sameTurn: (flags & FLAG_SAME_TURN) !== 0, sameLoop: (flags & FLAG_SAME_LOOP) !== 0,
      ...(partial !== undefined ? { partial } : {}),
    };
  }

  /** The next record, or null at the end of the recording (or where it was cut short). */
  next(): TraceRecord | null {
    if (this.#eof) return null;
    for (;;) {
      const start = this.#pos;
      const lastNow = this.#lastNow;
      try {
        const r = this.#record();
        if (r.kind === 'meta' && r.type === META_NAMES[META_SEGMENT_END]) {
          const next = path.join(path.dirname(this.file), String(r.data.next));
          if (!fs.existsSync(next)) { this.#eof = true; return r; }
          this.#open(next);
          this.#buf = Buffer.alloc(0);
          this.#pos = 0;
          continue;
        }
        return r;
      } catch (err) {
        if (err !== NEED_MORE) throw err;
        this.#pos = start;
        this.#lastNow = lastNow;
        if (!this.#more()) { this.#eof = true; this.close(); return null; }
      }
    }
  }

  *[Symbol.iterator](): Generator<TraceRecord> {
    for (let r = this.next(); r !== null; r = this.next()) yield r;
  }
}

/** Every record of a trace (and its later segments), in memory. */
export function readTrace(file: string): { header: TraceHeader; records: TraceRecord[] } {
  const reader = new TraceReader(file);
  const records = [...reader];
  return { header: reader.header, records };
}
