/**
 * The auditor's page (web/index.html): loads a round's transcripts and the federation file (from
 * files, or from the region node that serves this page), runs the same isomorphic verifier as
 * `mpc-node verify`, and shows every check and a picture of the round.
 *
 * Browser-only, no network beyond this page's own origin, CSP-friendly (no inline script or
 * style, no innerHTML of untrusted data: transcript text only ever reaches the DOM as textContent).
 * @module
 */
import { verifyRound, type RoundPicture, type VerifyReport } from './verifier.js';

type Kind = 'transcript' | 'federation' | 'result';
interface Input {
  name: string;
  kind: Kind;
  bytes: Uint8Array;
  origin: 'file' | 'node';
  /** A transcript's {@link recorderOf}, read once when it is added. */
  recorder?: string | null;
}

const SVG = 'http://www.w3.org/2000/svg';
const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
};

let inputs: Input[] = [];

// ---------------------------------------------------------------------------------------------
// Inputs

function classify(name: string, bytes: Uint8Array): Kind {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl')) return 'transcript';
  if (lower.endsWith('.bin') || lower.endsWith('.f32')) return 'result';
  if (lower.endsWith('.json')) return 'federation';
  // no telling extension: sniff
  const head = new TextDecoder().decode(bytes.subarray(0, 4096)).trimStart();
  if (head.startsWith('{') && !head.split('\n', 1)[0]!.trim().endsWith('}')) return 'federation';
  if (head.startsWith('{')) return head.includes('\n{') ? 'transcript' : 'federation';
  return 'result';
}

/**
 * Which region recorded a transcript (from its first entry). Every region's file of a round has
 * the same name (<round>.jsonl), so transcripts are told apart by recorder, not by file name.
 */
function recorderOf(bytes: Uint8Array): string | null {
  try {
    const first = new TextDecoder().decode(bytes.subarray(0, 65536)).split('\n', 1)[0]!;
    const e = JSON.parse(first) as { round?: unknown; region?: unknown };
    return typeof e.region === 'string' && typeof e.round === 'string' ? `${e.round}/${e.region}` : null;
  } catch {
    return null;
  }
}

function addInput(i: Input): void {
  if (i.kind === 'federation' || i.kind === 'result') inputs = inputs.filter((x) => x.kind !== i.kind);
  if (i.kind === 'transcript') {
    const key = (i.recorder = recorderOf(i.bytes));
    const region = key?.split('/')[1];
    if (region !== undefined && !i.name.includes(region)) i.name = `${i.name} (${region})`;
    // the same region's transcript again replaces it; other regions' files of the same name stay
    inputs = inputs.filter((x) => !(x.kind === 'transcript' && (key !== null ? x.recorder === key : x.name === i.name)));
  }
  inputs.push(i);
}

async function addFiles(files: Iterable<File>): Promise<void> {
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    addInput({ name: f.name, kind: classify(f.name, bytes), bytes, origin: 'file' });
  }
  renderInputs();
  await verify();
}

function renderInputs(): void {
  const list = $('file-list');
  list.replaceChildren();
  const order: Kind[] = ['federation', 'transcript', 'result'];
  for (const i of [...inputs].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name))) {
    const li = el('li', { class: `file kind-${i.kind}` });
    li.append(el('span', { class: 'badge' }, i.kind), el('span', { class: 'fname' }, i.name), el('span', { class: 'fsize' }, `${fmtBytes(i.bytes.length)}${i.origin === 'node' ? ' · from node' : ''}`));
    const rm = el('button', { type: 'button', class: 'link', 'aria-label': `remove ${i.name}` }, 'remove');
    rm.addEventListener('click', () => {
      inputs = inputs.filter((x) => x !== i);
      renderInputs();
      void verify();
    });
    li.append(rm);
    list.append(li);
  }
  const ready = inputs.some((i) => i.kind === 'federation') && inputs.some((i) => i.kind === 'transcript');
  ($('verify') as HTMLButtonElement).disabled = !ready;
  if (!ready && inputs.length) status(`Still needed: ${[!inputs.some((i) => i.kind === 'federation') && 'the federation file', !inputs.some((i) => i.kind === 'transcript') && 'at least one transcript'].filter(Boolean).join(' and ')}.`);
}

function status(text: string, kind: 'info' | 'error' = 'info'): void {
  const s = $('status');
  s.textContent = text;
  s.dataset.kind = kind;
}

// ---------------------------------------------------------------------------------------------
// Verification

let generation = 0;

async function verify(): Promise<void> {
  const fedInput = inputs.find((i) => i.kind === 'federation');
  const transcripts = inputs.filter((i) => i.kind === 'transcript');
  if (!fedInput || transcripts.length === 0) return;
  const gen = ++generation;
  document.body.dataset.state = 'verifying';
  status('Verifying…');
  let federation: unknown;
  try {
    federation = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fedInput.bytes));
  } catch (e) {
    document.body.dataset.state = 'error';
    status(`${fedInput.name} is not a JSON federation file: ${(e as Error).message}`, 'error');
    return;
  }
  const result = inputs.find((i) => i.kind === 'result');
  const t0 = performance.now();
  let report: VerifyReport;
  try {
    report = await verifyRound({ transcripts: transcripts.map((t) => t.bytes), names: transcripts.map((t) => t.name), federation, ...(result ? { result: result.bytes } : {}) });
  } catch (e) {
    if (gen !== generation) return;
    document.body.dataset.state = 'error';
    status(`The verifier stopped: ${(e as Error).message}`, 'error');
    return;
  }
  if (gen !== generation) return;
  const ms = performance.now() - t0;
  renderReport(report);
  renderPicture(report.picture);
  status(`Verified ${transcripts.length} transcript${transcripts.length === 1 ? '' : 's'}${result ? ' and the result vector' : ''} in ${ms.toFixed(0)} ms.`);
  document.body.dataset.state = 'done';
}

function renderReport(r: VerifyReport): void {
  $('report').hidden = false;
  const failed = r.checks.filter((c) => !c.ok);
  const verdict = $('verdict');
  verdict.dataset.ok = String(r.ok);
  verdict.textContent = r.ok
    ? `All ${r.checks.length} checks passed.`
    : `Verification FAILED: ${failed.length} of ${r.checks.length} checks failed${failed.length ? ` (${failed.map((c) => c.name).join(', ')})` : ''}.`;
  const list = $('checks');
  list.replaceChildren();
  for (const c of r.checks) {
    const li = el('li', { class: 'check', 'data-ok': String(c.ok), 'data-name': c.name });
    li.append(el('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'), el('span', { class: 'sr' }, c.ok ? 'passed: ' : 'FAILED: '), el('span', { class: 'cname' }, c.name), el('span', { class: 'detail' }, c.detail));
    list.append(li);
  }
  const errs = $('errors');
  errs.replaceChildren(...r.errors.map((e) => el('li', {}, e)));
  $('errors-box').hidden = r.errors.length === 0;
}

// ---------------------------------------------------------------------------------------------
// The picture

function renderPicture(p: RoundPicture | null): void {
  const section = $('picture');
  if (!p) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const dropped = p.regions.filter((r) => r.dropped).map((r) => r.id);
  $('picture-sub').textContent = `Round ${p.round}: ${p.regions.length} regions${dropped.length ? `, dropped: ${dropped.join(', ')}` : ', none dropped'}. Only Shamir shares and aggregate-shares crossed region boundaries; arrows show every transfer with its size.`;
  const diagrams = $('diagrams');
  diagrams.replaceChildren(
    ...(p.protocol === 2
      ? [
          panel(p, 'shares', '1 · Deal (protocol 2): each dealer sends t-1 holders a 32-byte seed and the others a computed share'),
          panel(p, 'aggregate-share', '2 · Fan-in: each holder sends the sum of its shares only to the nodes that combine it (t per node)'),
        ]
      : [
          panel(p, 'shares', '1 · Deal: each region sends one share of its vector to each other region'),
          panel(p, 'aggregate-share', '2 · Combine: holders publish the sum of their shares'),
        ]),
  );
  const box = $('result-box');
  box.replaceChildren();
  if (p.result) {
    box.append(
      el('h3', {}, 'Result'),
      kv('digest', p.result.digest, 'mono'),
      kv('contributors (dealers counted)', p.result.contributors.join(', ') || '—'),
      kv('holders (reconstructed it)', p.result.holders.join(', ') || '—'),
    );
  } else {
    box.append(el('h3', {}, 'Result'), el('p', { class: 'hint' }, 'No result in this transcript: the round aborted or did not finish.'));
  }
  const tbody = $('flows').querySelector('tbody')!;
  tbody.replaceChildren(
    ...p.flows.map((f) => {
      const tr = el('tr', {});
      tr.append(el('td', {}, f.from), el('td', {}, f.to), el('td', {}, f.kind), el('td', { class: 'num' }, f.bytes.toLocaleString('en-US')));
      return tr;
    }),
  );
}

function kv(k: string, v: string, cls = ''): HTMLElement {
  const d = el('div', { class: 'kv' });
  d.append(el('span', { class: 'k' }, k), el('span', { class: `v ${cls}` }, v));
  return d;
}

const BOX_W = 116;
const BOX_H = 54;

function panel(p: RoundPicture, kind: 'shares' | 'aggregate-share', title: string): HTMLElement {
  const fig = el('figure', { class: 'panel' });
  const n = p.regions.length;
  const W = 560;
  const H = 520;
  const cx = W / 2;
  const cy = 225;
  const R = n <= 2 ? 150 : Math.min(175, 60 + 24 * n);
  const pos = new Map<string, { x: number; y: number }>();
  p.regions.forEach((r, i) => {
    const a = n <= 2 ? Math.PI * i : -Math.PI / 2 + (2 * Math.PI * i) / n;
    pos.set(r.id, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a) });
  });
  const flows = p.flows.filter((f) => f.kind === kind && f.from !== f.to && pos.has(f.from) && pos.has(f.to));
  const total = flows.reduce((s, f) => s + f.bytes, 0);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: `diagram ${kind}` });
  svg.append(svgEl('title', {}, `${title}. ${flows.map((f) => `${f.from} to ${f.to}: ${f.bytes} bytes`).join('; ') || 'nothing flowed'}`));
  const markerId = `arrow-${kind}`;
  const defs = svgEl('defs', {});
  const marker = svgEl('marker', { id: markerId, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse' });
  marker.append(svgEl('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }));
  defs.append(marker);
  svg.append(defs);

  const arrows = svgEl('g', { class: 'arrows' });
  const labels = svgEl('g', { class: 'labels' });
  for (const f of flows) {
    const a = pos.get(f.from)!;
    const b = pos.get(f.to)!;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const off = 30;
    const c = { x: (a.x + b.x) / 2 + (-dy / len) * off, y: (a.y + b.y) / 2 + (dx / len) * off };
    const s = clipToBox(a, c, 2);
    const e = clipToBox(b, c, 4);
    const path = svgEl('path', { d: `M${s.x.toFixed(1)},${s.y.toFixed(1)} Q${c.x.toFixed(1)},${c.y.toFixed(1)} ${e.x.toFixed(1)},${e.y.toFixed(1)}`, class: 'flow', 'marker-end': `url(#${markerId})` });
    path.append(svgEl('title', {}, `${f.from} → ${f.to}: ${f.bytes.toLocaleString('en-US')} bytes of ${f.kind}`));
    arrows.append(path);
    // label on the curve, a little towards the sender: labels of long chords then do not pile up
    // in the middle of the circle, and the two directions of a pair sit apart
    const t = 0.4;
    const lx = (1 - t) * (1 - t) * s.x + 2 * (1 - t) * t * c.x + t * t * e.x;
    const ly = (1 - t) * (1 - t) * s.y + 2 * (1 - t) * t * c.y + t * t * e.y;
    labels.append(svgEl('text', { x: lx.toFixed(1), y: (ly + 4).toFixed(1), class: 'flow-label', 'text-anchor': 'middle' }, fmtBytes(f.bytes)));
  }
  svg.append(arrows, labels);

  const boxes = svgEl('g', { class: 'regions' });
  for (const r of p.regions) {
    const { x, y } = pos.get(r.id)!;
    const g = svgEl('g', { class: `region${r.dropped ? ' dropped' : ''}`, 'data-region': r.id });
    g.append(svgEl('rect', { x: (x - BOX_W / 2).toFixed(1), y: (y - BOX_H / 2).toFixed(1), width: String(BOX_W), height: String(BOX_H), rx: '8' }));
    g.append(svgEl('text', { x: x.toFixed(1), y: (y - 6).toFixed(1), class: 'rname', 'text-anchor': 'middle' }, `${r.id} · ${r.jurisdiction}`));
    const state = r.dropped ? (r.dealt ? 'dropped after dealing' : 'dropped') : [r.dealt ? 'dealt' : 'did not deal', r.held ? 'holder' : ''].filter(Boolean).join(' · ');
    g.append(svgEl('text', { x: x.toFixed(1), y: (y + 14).toFixed(1), class: 'rstate', 'text-anchor': 'middle' }, state));
    boxes.append(g);
  }
  svg.append(boxes);

  const y0 = H - 74;
  if (kind === 'shares') {
    const dealers = p.regions.filter((r) => r.dealt).map((r) => r.id);
    const silent = p.regions.filter((r) => !r.dealt).map((r) => r.id);
    const g = svgEl('g', { class: 'result note' });
    g.append(svgEl('rect', { x: '60', y: String(y0), width: String(W - 120), height: '60', rx: '10' }));
    g.append(svgEl('text', { x: String(cx), y: String(y0 + 24), class: 'rname', 'text-anchor': 'middle' }, `dealt: ${dealers.join(', ') || 'nobody'}`));
    g.append(svgEl('text', { x: String(cx), y: String(y0 + 44), class: 'rstate', 'text-anchor': 'middle' }, silent.length ? `did not deal: ${silent.join(', ')}` : 'every region dealt its shares'));
    svg.append(g);
  } else {
    const g = svgEl('g', { class: `result${p.result ? '' : ' none'}` });
    g.append(svgEl('rect', { x: '60', y: String(y0), width: String(W - 120), height: '60', rx: '10' }));
    if (p.result) {
      g.append(svgEl('text', { x: String(cx), y: String(y0 + 24), class: 'rname', 'text-anchor': 'middle' }, `result: aggregate of ${p.result.contributors.length} region${p.result.contributors.length === 1 ? '' : 's'}`));
      g.append(svgEl('text', { x: String(cx), y: String(y0 + 44), class: 'rstate mono', 'text-anchor': 'middle' }, `digest ${p.result.digest.slice(0, 16)}…  ·  held by ${p.result.holders.join(', ')}`));
    } else {
      g.append(svgEl('text', { x: String(cx), y: String(y0 + 35), class: 'rname', 'text-anchor': 'middle' }, 'no result (round aborted or unfinished)'));
    }
    svg.append(g);
  }
  fig.append(svg, el('figcaption', {}, `${title} — ${flows.length} transfer${flows.length === 1 ? '' : 's'}, ${fmtBytes(total)} in total`));
  return fig;
}

/** The point where the ray from a box's centre towards `toward` leaves the box (plus a gap). */
function clipToBox(center: { x: number; y: number }, toward: { x: number; y: number }, gap: number): { x: number; y: number } {
  const dx = toward.x - center.x;
  const dy = toward.y - center.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const t = Math.min(ux ? BOX_W / 2 / Math.abs(ux) : Infinity, uy ? BOX_H / 2 / Math.abs(uy) : Infinity) + gap;
  return { x: center.x + ux * t, y: center.y + uy * t };
}

// ---------------------------------------------------------------------------------------------
// Loading from the node that serves this page

async function loadFromNode(round: string): Promise<void> {
  status(`Loading the federation and round ${round} from this node…`);
  try {
    const [fed, tr, health] = await Promise.all([fetchBytes('/federation'), fetchBytes(`/transcripts/${encodeURIComponent(round)}`), fetchBytes('/healthz').catch(() => null)]);
    let region = 'node';
    try {
      if (health) region = String((JSON.parse(new TextDecoder().decode(health)) as { region?: unknown }).region ?? region);
    } catch {
      /* keep 'node' */
    }
    addInput({ name: 'federation.json', kind: 'federation', bytes: fed, origin: 'node' });
    addInput({ name: `${region}/${round}.jsonl`, kind: 'transcript', bytes: tr, origin: 'node' });
  } catch (e) {
    document.body.dataset.state = 'error';
    status((e as Error).message, 'error');
    return;
  }
  renderInputs();
  await verify();
}

async function fetchBytes(path: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(path, { cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new Error(`cannot reach this node for ${path}: ${(e as Error).message}`);
  }
  if (!res.ok) {
    let msg = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) msg = body.error.message;
    } catch {
      /* not JSON */
    }
    throw new Error(`the node refused ${path}: ${msg}`);
  }
  return new Uint8Array(await res.arrayBuffer());
}

// ---------------------------------------------------------------------------------------------
// Helpers

function el(tag: string, attrs: Record<string, string>, text?: string): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag: string, attrs: Record<string, string>, text?: string): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 2 : 1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

// ---------------------------------------------------------------------------------------------
// Wiring

function main(): void {
  const served = location.protocol === 'http:' || location.protocol === 'https:';
  $('where').textContent = served ? `served by the node at ${location.host}` : 'opened from a file';
  const form = $('node-form') as HTMLFormElement;
  const roundInput = $('round-id') as HTMLInputElement;
  if (served) {
    form.hidden = false;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const round = roundInput.value.trim();
      if (round) void loadFromNode(round);
    });
    const r = new URLSearchParams(location.search).get('round');
    if (r) {
      roundInput.value = r;
      void loadFromNode(r);
    }
  }
  const files = $('files') as HTMLInputElement;
  files.addEventListener('change', () => {
    if (files.files) void addFiles(Array.from(files.files));
    files.value = '';
  });
  const drop = $('drop');
  for (const t of [document.documentElement]) {
    t.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      drop.classList.add('over');
    });
    t.addEventListener('dragleave', (ev) => {
      if (ev.target === document.documentElement || ev.relatedTarget === null) drop.classList.remove('over');
    });
    t.addEventListener('drop', (ev) => {
      ev.preventDefault();
      drop.classList.remove('over');
      if (ev.dataTransfer?.files.length) void addFiles(Array.from(ev.dataTransfer.files));
    });
  }
  $('verify').addEventListener('click', () => void verify());
  $('clear').addEventListener('click', () => {
    inputs = [];
    generation++;
    renderInputs();
    $('report').hidden = true;
    $('picture').hidden = true;
    status('');
    delete document.body.dataset.state;
  });
  document.body.dataset.ready = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main);
else main();
