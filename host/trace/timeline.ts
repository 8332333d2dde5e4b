// A picture of a recording: `wasinet replay FILE --html out.html` writes one self-contained page
// (no network, no external files) with a lane per socket and listener over time, each input a
// mark on its lane (the application's calls above the line, the transport's below), the bytes
// each way, timeouts, errors, and the divergence when the replay found one. Clicking a mark shows
// the input's details (out.html#input=N opens the Nth input; the divergence opens by itself). The data
// is JSON in the page's own script.
import { readTrace, type InputRecord } from './reader.js';
import { inputById } from '../core/inputs.js';
import { describeInput, Lanes, preview } from './describe.js';

/** Where a replay first disagreed, to mark on the page. */
export interface TimelineDivergence {
  /** 0-based input position. */
  seq: number;
  title: string;
  detail: string;
}

type Kind = 'call' | 'data' | 'error' | 'timer' | 'transport';

interface Mark { s: number; t: number; l: number; k: Kind; n: string; d: string; p: string; depth: number; r: number; b: number }

function kindOf(r: InputRecord): Kind {
  if (r.name === 'onError' || (r.name === 'onConnect' && r.args[1] !== 0) || (r.name === 'onListening' && r.args[1] !== 0) || r.result < 0) return 'error';
  if (r.name === 'onTimer' || r.name === 'apiSetTimeout' || r.name === 'apiTimerSet' || r.name === 'apiRefreshTimeout') return 'timer';
  if (r.name === 'onData' || r.name === 'apiWrite') return 'data';
  return inputById(r.id)!.api ? 'call' : 'transport';
}

/** The page for a trace file (format 2). `maxMarks` bounds the page's size on long recordings. */
export function timelineHtml(file: string, divergence: TimelineDivergence | null = null, maxMarks = 50_000): string {
  const { header, records } = readTrace(file);
  const lanes = new Lanes();
  const marks: Mark[] = [];
  let inputs = 0;
  const stackLane = { label: 'stack (timers, flushes)', kind: 'stack' };
  let last: InputRecord | null = null;
  for (const r of records) {
    if (r.kind === 'meta' && r.type === 'tls' && last !== null && marks.length < maxMarks) {
      // A TLS session's state, as its socket asked for it (host/net/tls.ts): a mark at the input it came in.
      const h = Number(r.data.h);
      const lane = lanes.of(h);
      const what = tlsSummary(r.data.state);
      if (what !== null) {
        if (lane !== null && what.secure && !lane.label.endsWith(' · TLS') && !lane.label.startsWith('TLS session')) lane.label += ' · TLS';
        marks.push({ s: last.seq, t: last.t, l: lane ? lane.id + 1 : 0, k: what.secure ? 'transport' : 'error', n: 'tls', d: `tls h=${h} ${what.text}`, p: '', depth: last.depth, r: 0, b: 0 });
      }
      continue;
    }
    if (r.kind !== 'input') continue;
    last = r;
    inputs++;
    const lane = lanes.add(r.seq, r);
    if (marks.length >= maxMarks) continue;
    marks.push({
      s: r.seq, t: r.t, l: lane ? lane.id + 1 : 0, k: kindOf(r), n: r.name, d: describeInput(r),
      p: r.payload === null ? '' : r.partial === undefined ? preview(r.payload, 256)
        : `${preview(r.payload.subarray(0, Math.min(256, r.partial.head)), 256)} … (the recording kept the first ${r.partial.head} B)`, depth: r.depth, r: r.result, b: r.payload?.length ?? 0,
    });
  }
  const data = {
    file, header, inputs, shown: marks.length, divergence,
    lanes: [stackLane, ...lanes.lanes.map((l) => ({ label: l.label, kind: l.kind, bytesIn: l.bytesIn, bytesOut: l.bytesOut }))],
    marks,
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return PAGE.replace('/*DATA*/null', json);
}

/** One line for a `tls` record's state: the session negotiated, or its error; null for none. */
export function tlsSummary(state: unknown): { secure: boolean; text: string } | null {
  if (state === null || typeof state !== 'object') return null;
  const st = state as { secure?: Record<string, any>; error?: Record<string, any> };
  if (st.secure) {
    const s = st.secure;
    const peer = s.peerCertificate as { subject?: { CN?: unknown }; issuer?: { CN?: unknown } } | null;
    return {
      secure: true,
      text: `secure: ${s.protocol} ${(s.cipher as { name?: string } | null)?.name ?? ''}${s.alpnProtocol ? `, ALPN ${s.alpnProtocol}` : ''}` +
        `${peer?.subject?.CN !== undefined ? `, peer CN=${String(peer.subject.CN)}` : ''}${peer?.issuer?.CN !== undefined ? ` (issuer CN=${String(peer.issuer.CN)})` : ''}` +
        // A server's session that asked for no client certificate has no verdict on one.
        `${s.authorized ? ', authorized' : s.authorizationError ? `, not authorized (${s.authorizationError})` : ''}`,
    };
  }
  if (st.error) return { secure: false, text: `error: ${String(st.error.code ?? st.error.$error ?? 'Error')} ${String(st.error.message ?? '')}` };
  const tickets = (state as { sessions?: unknown[] }).sessions;
  if (Array.isArray(tickets)) return { secure: true, text: `${tickets.length} session ticket${tickets.length === 1 ? '' : 's'} (\'session\')` };
  return null;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wasinet trace timeline</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 8px 12px; background: #f3f4f6; border-bottom: 1px solid #ddd; }
header h1 { font-size: 16px; margin: 0 0 4px; }
#divergence { background: #fee2e2; border: 1px solid #b91c1c; padding: 6px 10px; margin: 6px 0 0; white-space: pre-wrap; font-family: monospace; }
#main { display: flex; height: calc(100vh - 120px); min-height: 300px; }
#lanes { overflow: auto; flex: 1; position: relative; }
#details { width: 340px; border-left: 1px solid #ddd; padding: 8px; overflow: auto; font-family: monospace; white-space: pre-wrap; word-break: break-all; }
.lane { display: flex; height: 44px; border-bottom: 1px solid #eee; }
.label { position: sticky; left: 0; z-index: 2; background: #fff; width: 300px; min-width: 300px; padding: 2px 6px; border-right: 1px solid #ddd; overflow: hidden; font-size: 12px; }
.label small { color: #666; display: block; }
.track { position: relative; height: 44px; }
.track::after { content: ''; position: absolute; left: 0; right: 0; top: 17px; border-top: 1px dashed #ddd; }
.mark { position: absolute; width: 8px; height: 12px; margin-left: -4px; border-radius: 2px; cursor: pointer; z-index: 1; }
.mark.call { background: #2563eb; top: 3px; } .mark.data { background: #059669; } .mark.transport { background: #6b7280; top: 19px; }
.mark.timer { background: #d97706; } .mark.error { background: #dc2626; top: 11px; height: 14px; }
.mark.api { top: 3px; } .mark.on { top: 19px; }
.mark.selected { outline: 2px solid #000; }
.divline { position: absolute; top: 0; bottom: 0; border-left: 2px solid #dc2626; z-index: 3; pointer-events: none; }
#controls { margin-top: 4px; }
</style></head>
<body>
<header><h1>wasinet trace timeline</h1><div id="summary"></div>
<div id="controls"><label>x axis <select id="axis"><option value="order">input order</option><option value="time">time</option></select></label>
<label> zoom <input id="zoom" type="range" min="2" max="40" value="12"></label>
<span> ▲ application calls · ▼ transport · <b style="color:#059669">data</b> · <b style="color:#d97706">timers</b> · <b style="color:#dc2626">errors</b></span></div>
<div id="divergence" hidden></div></header>
<div id="main"><div id="lanes"></div><div id="details">Click a mark to see its input.</div></div>
<script>
"use strict";
// Script errors are counted on the page itself (a test reads them from the DOM).
window.addEventListener('error', (e) => { document.body.dataset.errors = String(Number(document.body.dataset.errors || 0) + 1); document.body.dataset.lastError = String(e.message); });
const DATA = /*DATA*/null;
const $ = (id) => document.getElementById(id);
const laneBox = $('lanes');
const fmtBytes = (n) => n >= 1048576 ? (n / 1048576).toFixed(1) + ' MiB' : n >= 1024 ? (n / 1024).toFixed(1) + ' KiB' : n + ' B';
const t0 = DATA.marks.length ? DATA.marks[0].t : 0;
const t1 = DATA.marks.length ? DATA.marks[DATA.marks.length - 1].t : 0;
$('summary').textContent = DATA.file + ' — ' + DATA.inputs + ' inputs' + (DATA.shown < DATA.inputs ? ' (first ' + DATA.shown + ' shown)' : '') +
  ', ' + (t1 - t0).toFixed(1) + ' ms, ' + (DATA.lanes.length - 1) + ' sockets and listeners; recorded ' + (DATA.header.started || '') + ', core ' + String(DATA.header.core || '').slice(0, 19);
if (DATA.divergence) {
  const d = $('divergence');
  d.hidden = false;
  d.textContent = DATA.divergence.title + '\\n' + DATA.divergence.detail;
}
let selected = null;
function show(m, el) {
  if (selected) selected.classList.remove('selected');
  selected = el; el.classList.add('selected');
  const lane = DATA.lanes[m.l];
  $('details').textContent = ['input #' + (m.s + 1) + (DATA.divergence && DATA.divergence.seq === m.s ? '  ← the replay diverged here' : ''),
    't = ' + m.t.toFixed(3) + ' ms (+' + (m.t - t0).toFixed(3) + ')', 'lane: ' + lane.label, 'export: ' + m.n,
    m.d, 'result: ' + m.r, 'nested: depth ' + m.depth, m.b ? 'payload: ' + m.b + ' B\\n' + m.p : ''].join('\\n');
}
function render() {
  const byTime = $('axis').value === 'time';
  const zoom = Number($('zoom').value);
  const span = Math.max(1e-9, t1 - t0);
  const x = (m, i) => byTime ? ((m.t - t0) / span) * Math.max(800, DATA.marks.length * zoom / 2) : i * zoom;
  const width = (byTime ? Math.max(800, DATA.marks.length * zoom / 2) : DATA.marks.length * zoom) + 40;
  laneBox.textContent = '';
  const tracks = DATA.lanes.map((lane, i) => {
    const row = document.createElement('div');
    row.className = 'lane';
    row.dataset.lane = String(i);
    const label = document.createElement('div');
    label.className = 'label';
    label.textContent = lane.label;
    if (lane.kind !== 'stack') {
      const small = document.createElement('small');
      small.textContent = '↓ ' + fmtBytes(lane.bytesIn) + ' in · ↑ ' + fmtBytes(lane.bytesOut) + ' out';
      label.appendChild(small);
    }
    const track = document.createElement('div');
    track.className = 'track';
    track.style.width = width + 'px';
    row.append(label, track);
    laneBox.appendChild(row);
    return track;
  });
  DATA.marks.forEach((m, i) => {
    const el = document.createElement('div');
    el.className = 'mark ' + m.k + ' ' + (m.n.startsWith('api') ? 'api' : 'on');
    el.style.left = (x(m, i) + 8) + 'px';
    el.title = m.d;
    el.dataset.seq = String(m.s);
    el.addEventListener('click', () => show(m, el));
    tracks[m.l].appendChild(el);
    if (DATA.divergence && DATA.divergence.seq === m.s) {
      const line = document.createElement('div');
      line.className = 'divline';
      line.style.left = (x(m, i) + 8) + 'px';
      tracks.forEach((t) => t.appendChild(line.cloneNode()));
    }
  });
  if (DATA.divergence && !DATA.marks.some((m) => m.s === DATA.divergence.seq)) {
    const line = document.createElement('div');
    line.className = 'divline';
    line.style.left = (DATA.marks.length * zoom + 8) + 'px';
    tracks.forEach((t) => t.appendChild(line.cloneNode()));
  }
  document.body.dataset.rendered = String(DATA.marks.length);
}
$('axis').addEventListener('change', render);
$('zoom').addEventListener('input', render);
render();
// out.html#input=N opens input N (numbered from 1, as the replay's reports); by default the divergence.
const wanted = /input=(\\d+)/.exec(location.hash);
const first = wanted ? Number(wanted[1]) - 1 : DATA.divergence ? DATA.divergence.seq : -1;
const el = first >= 0 ? laneBox.querySelector('.mark[data-seq="' + first + '"]') : null;
if (el) { el.click(); el.scrollIntoView({ block: 'nearest', inline: 'center' }); }
</script></body></html>
`;
