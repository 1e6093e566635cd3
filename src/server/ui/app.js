// The agentgov dashboard: plain web components, no framework, no build step. Every
// value from the daemon is put into the page as text (textContent), never as markup.

const session = { csrf: null, identity: null, role: null };

// h('td', {class: 'x', onclick: fn}, 'text', child...) builds an element.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// Calls the daemon with the session cookie; state changes carry the CSRF token.
async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = session.csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let j = null;
  try { j = await res.json(); } catch (e) { j = null; }
  if (!res.ok) {
    if (res.status === 401) document.querySelector('ag-app')?.signedOut();
    const msg = j && j.errors ? j.errors.join('; ') : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg);
  }
  return j;
}

function age(rfc3339) {
  if (!rfc3339) return 'none';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(rfc3339)) / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

function decisionCell(d) {
  return h('td', { class: d === 'allow' || d === 'deny' || d === 'ask' ? d : null }, d ?? '');
}

// A confirmation with an optional reason; resolves to the reason, or null if cancelled.
function confirmAction(title, withReason) {
  return new Promise((resolve) => {
    const reason = h('input', { placeholder: 'reason', name: 'reason' });
    const dlg = h('dialog', { class: 'confirm' },
      h('p', {}, title),
      withReason ? reason : null,
      h('div', {},
        h('button', { class: 'danger', 'data-act': 'confirm', onclick: () => { dlg.close(); resolve(reason.value); dlg.remove(); } }, 'Confirm'),
        ' ',
        h('button', { 'data-act': 'cancel', onclick: () => { dlg.close(); resolve(null); dlg.remove(); } }, 'Cancel')));
    document.body.append(dlg);
    dlg.showModal();
  });
}

class AgSignin extends HTMLElement {
  connectedCallback() {
    const token = h('input', { type: 'password', name: 'token', placeholder: 'agentgov token (agv.…)', autocomplete: 'off' });
    const err = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'card signin' },
      h('h2', {}, 'Sign in to agentgov'),
      h('p', { class: 'muted' }, 'An administrator (root or tier 4) or approver token. It stays in the daemon; the browser gets a session cookie.'),
      token, h('button', { class: 'primary', type: 'submit' }, 'Sign in'), err);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      try {
        const j = await api('POST', '/ui/api/session', { token: token.value });
        token.value = '';
        document.querySelector('ag-app').signedIn(j);
      } catch (e) { err.textContent = e.message; }
    });
    this.replaceChildren(form);
  }
}

class AgOverview extends HTMLElement {
  connectedCallback() { this.samples = []; this.refresh(); this.timer = setInterval(() => this.refresh(), 2000); }
  disconnectedCallback() { clearInterval(this.timer); }
  async refresh() {
    let ov, health;
    try {
      ov = (await api('GET', '/ui/api/overview')).data;
      health = await fetch('/v1/sys/health?standbyok=true&sealedcode=200&uninitcode=200').then((r) => r.json());
    } catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); return; }
    this.samples.push(ov);
    while (this.samples.length > 31) this.samples.shift();
    const first = this.samples[0];
    const mins = Math.max((ov.now_ms - first.now_ms) / 60000, 1 / 60);
    const rate = (k) => this.samples.length > 1 ? Math.round((ov.decisions[k] - first.decisions[k]) / mins) : 0;
    const byTier = {}, byPhase = {};
    for (const a of ov.agents) {
      byTier[`T${a.tier}`] = (byTier[`T${a.tier}`] || 0) + 1;
      const ph = a.revoked ? 'REVOKED' : (a.state && a.state.phase) || 'none';
      byPhase[ph] = (byPhase[ph] || 0) + 1;
    }
    const kv = (o) => h('table', {}, Object.entries(o).sort().map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v))));
    const ag = health.agentgov || {};
    const comps = ag.components || {};
    this.replaceChildren(h('div', { class: 'cards' },
      h('section', { class: 'card', id: 'agents-card' }, h('h2', {}, 'Agents'),
        h('div', { class: 'big', 'data-test': 'agent-count' }, ov.agents.length),
        h('h3', {}, 'By tier'), kv(byTier), h('h3', {}, 'By phase'), kv(byPhase)),
      h('section', { class: 'card' }, h('h2', {}, 'Decisions per minute'),
        ['allow', 'deny', 'ask'].map((k) => h('div', {},
          h('span', { class: k }, k), ': ', h('span', { 'data-test': `rate-${k}` }, rate(k)),
          h('span', { class: 'muted' }, ` (total ${ov.decisions[k]})`)))),
      h('section', { class: 'card' }, h('h2', {}, 'Revocations'),
        h('div', { class: 'big', 'data-test': 'revocations' }, ov.revocations),
        h('p', { class: 'muted' }, `since the daemon started; refused credentials: ${ov.auth_refusals}`)),
      h('section', { class: 'card' }, h('h2', {}, 'Health and breakers'),
        h('div', { 'data-test': 'health' }, `status: ${ag.status || 'unknown'}`),
        h('table', { id: 'health' }, h('tr', {}, h('th', {}, 'Component'), h('th', {}, 'Status'), h('th', {}, 'Detail')),
          Object.entries(comps).map(([k, c]) => h('tr', { 'data-component': k },
            h('td', {}, k), h('td', { class: c.status === 'ok' ? 'allow' : 'deny' }, c.status), h('td', { class: 'muted' }, c.detail || '')))))));
  }
}

class AgAgents extends HTMLElement {
  connectedCallback() { this.refresh(); this.timer = setInterval(() => this.refresh(), 2000); }
  disconnectedCallback() { clearInterval(this.timer); }
  async act(id, what) {
    const reason = await confirmAction(`${what} agent ${id}?`, what !== 'promote');
    if (reason === null) return;
    const body = what === 'promote' ? { approve: true } : { reason };
    try { await api('POST', `/v1/agents/${encodeURIComponent(id)}/${what}`, body); this.msg = `${what}: ${id} done`; }
    catch (e) { this.msg = `${what} ${id}: ${e.message}`; }
    this.refresh();
  }
  async refresh() {
    let ov;
    try { ov = (await api('GET', '/ui/api/overview')).data; }
    catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); return; }
    const rows = ov.agents.map((a) => h('tr', { 'data-agent': a.agent_id },
      h('td', {}, h('a', { href: `#/agent/${encodeURIComponent(a.agent_id)}` }, a.agent_id)),
      h('td', {}, `T${a.tier}`),
      h('td', { class: 'phase' }, a.revoked ? 'REVOKED' : (a.state && a.state.phase) || ''),
      h('td', {}, (a.state && a.state.task_id) || ''),
      h('td', {}, `${a.total_errors} errors, ${a.procedure_violations} violations`),
      h('td', {}, age(a.heartbeat)),
      h('td', {},
        h('button', { class: 'danger', 'data-act': 'revoke', disabled: a.revoked, onclick: () => this.act(a.agent_id, 'revoke') }, 'Revoke'), ' ',
        h('button', { 'data-act': 'promote', onclick: () => this.act(a.agent_id, 'promote') }, 'Promote'), ' ',
        h('button', { 'data-act': 'demote', onclick: () => this.act(a.agent_id, 'demote') }, 'Demote'))));
    this.replaceChildren(
      h('p', { class: 'muted', role: 'status' }, this.msg || ''),
      h('table', { id: 'agents' },
        h('tr', {}, ['Agent', 'Tier', 'Phase', 'Task', 'Budget used', 'Heartbeat age', ''].map((t) => h('th', {}, t))),
        rows));
  }
}

function entryRow(e, onclick) {
  return h('tr', { class: 'entry', 'data-seq': e.seq, 'data-kind': e.kind, onclick },
    h('td', {}, e.seq), h('td', { class: 'muted' }, (e.ts || '').slice(11, 23)), h('td', {}, e.kind),
    h('td', {}, e.agent_id ?? ''), h('td', {}, e.task_id ?? ''), h('td', {}, e.action ?? ''),
    h('td', {}, e.resource ?? ''), decisionCell(e.decision), h('td', {}, e.reason ?? ''));
}
const ENTRY_HEAD = ['Seq', 'Time', 'Kind', 'Agent', 'Task', 'Action', 'Resource', 'Decision', 'Reason'];

function entryDetail(e) {
  return h('div', { class: 'card', id: 'detail' },
    h('h2', {}, `Entry ${e.seq}`),
    h('p', {}, 'Chain link: previous hash ', h('code', { 'data-test': 'prev-hash' }, e.prev_hash),
      ' (entry ', e.seq - 1, '), this hash ', h('code', {}, e.hash)),
    h('pre', {}, JSON.stringify(e, null, 2)));
}

class AgAgent extends HTMLElement {
  async connectedCallback() {
    const id = this.getAttribute('agent');
    const detail = h('div', {});
    try {
      const st = (await api('GET', `/v1/agents/${encodeURIComponent(id)}`)).data;
      const led = (await api('GET', `/v1/ledger?agent=${encodeURIComponent(id)}&order=desc&limit=200`)).data;
      this.replaceChildren(h('h2', {}, `Agent ${id}`),
        h('p', {}, `tier T${st.tier}, ${st.revoked ? 'revoked' : 'active'}, heartbeat ${age(st.heartbeat)}`),
        h('div', { class: 'split' },
          h('table', { id: 'timeline' }, h('tr', {}, ENTRY_HEAD.map((t) => h('th', {}, t))),
            led.entries.map((e) => entryRow(e, () => detail.replaceChildren(entryDetail(e))))),
          detail));
    } catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
}

class AgTail extends HTMLElement {
  connectedCallback() {
    this.filters = { agent: '', task: '', kind: '' };
    const inputs = ['agent', 'task', 'kind'].map((k) => h('input', { name: k, placeholder: k }));
    this.body = h('tbody', {});
    this.detail = h('div', {});
    this.verdict = h('span', { 'data-test': 'verify' });
    this.state = h('span', { class: 'muted', 'data-test': 'tail-state' }, 'connecting');
    this.replaceChildren(
      h('form', { class: 'filters', onsubmit: (ev) => {
        ev.preventDefault();
        inputs.forEach((i) => { this.filters[i.name] = i.value.trim(); });
        this.start();
      } }, inputs, h('button', { type: 'submit' }, 'Filter'),
      h('button', { type: 'button', onclick: () => this.verify() }, 'Verify the chain'), this.verdict, this.state),
      h('div', { class: 'split' },
        h('table', { id: 'tail' }, h('thead', {}, h('tr', {}, ENTRY_HEAD.map((t) => h('th', {}, t)))), this.body),
        this.detail));
    this.start();
  }
  disconnectedCallback() { this.es?.close(); }
  q() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(this.filters)) if (v) p.set(k, v);
    return p;
  }
  add(e) {
    this.body.prepend(entryRow(e, () => this.detail.replaceChildren(entryDetail(e))));
    while (this.body.children.length > 500) this.body.lastChild.remove();
  }
  async start() {
    this.es?.close();
    this.body.replaceChildren();
    this.detail.replaceChildren();
    let after = 0;
    try {
      const p = this.q(); p.set('order', 'desc'); p.set('limit', '50');
      const recent = (await api('GET', `/v1/ledger?${p}`)).data.entries;
      recent.reverse().forEach((e) => { this.add(e); after = Math.max(after, e.seq); });
    } catch (e) { this.state.textContent = e.message; return; }
    const p = this.q(); p.set('after', String(after));
    this.es = new EventSource(`/ui/api/tail?${p}`);
    this.es.addEventListener('open', () => { this.state.textContent = 'live'; });
    this.es.addEventListener('error', () => { this.state.textContent = 'reconnecting'; });
    this.es.addEventListener('entry', (ev) => this.add(JSON.parse(ev.data)));
    this.es.addEventListener('gap', (ev) => {
      const g = JSON.parse(ev.data);
      this.body.prepend(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, `entries ${g.from}-${g.to} went by too fast; query them from the ledger`)));
    });
  }
  async verify() {
    this.verdict.textContent = 'verifying…';
    try {
      const v = (await api('GET', '/v1/ledger/verify')).data;
      this.verdict.textContent = v.ok ? `chain ok: ${v.entries} entries, head ${v.head.slice(0, 12)}` : `BROKEN at ${v.bad_seq}: ${v.problem}`;
      this.verdict.className = v.ok ? 'allow' : 'deny';
    } catch (e) { this.verdict.textContent = e.message; this.verdict.className = 'deny'; }
  }
}

// Approvals: what waits for a person, exactly what will run, and what was decided.
class AgApprovals extends HTMLElement {
  connectedCallback() { this.refresh(); this.timer = setInterval(() => this.refresh(), 2000); }
  disconnectedCallback() { clearInterval(this.timer); }
  async decide(a, approve) {
    const reason = await confirmAction(`${approve ? 'Approve' : 'Deny'} ${a.action} on ${a.resource} for ${a.agent_id}?`, true);
    if (reason === null) return;
    if (!approve && !reason.trim()) { this.msg = 'a deny needs a reason'; this.refresh(); return; }
    try {
      await api('POST', `/v1/approvals/${encodeURIComponent(a.id)}/${approve ? 'approve' : 'deny'}`, reason.trim() ? { reason } : {});
      this.msg = `${approve ? 'approved' : 'denied'}: ${a.id}`;
    } catch (e) { this.msg = `${a.id}: ${e.message}`; }
    this.refresh();
  }
  async refresh() {
    let all;
    try { all = (await api('GET', '/v1/approvals?limit=200')).data.approvals; }
    catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); return; }
    const votes = (a) => (a.votes || []).map((v) => `${v.decision} by ${(v.approver && v.approver.entity) || '?'}${v.reason ? `: ${v.reason}` : ''}`).join('; ');
    const pending = all.filter((a) => a.status === 'pending');
    const done = all.filter((a) => a.status !== 'pending');
    this.replaceChildren(
      h('p', { class: 'muted', role: 'status' }, this.msg || ''),
      h('h2', {}, `Pending (${pending.length})`),
      h('div', { class: 'cards' }, pending.map((a) => h('section', { class: 'card approval', 'data-approval': a.id },
        h('h2', {}, `${a.agent_id}: ${a.action}`),
        h('table', {},
          [['resource', a.resource], ['task', a.task_id], ['tier / phase', `T${a.tier} ${a.phase}`], ['rule', `${a.rule_id} (${a.rule})`],
            ['votes', `${(a.votes || []).length} of ${a.required} ${votes(a)}`], ['expires', a.expires_at], ['id', a.id]]
            .map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v ?? '')))),
        h('p', {}, 'Exactly what will run (arguments):'),
        h('pre', { 'data-test': 'args' }, JSON.stringify(a.args ?? null, null, 2)),
        h('button', { class: 'primary', 'data-act': 'approve', onclick: () => this.decide(a, true) }, 'Approve'), ' ',
        h('button', { class: 'danger', 'data-act': 'deny', onclick: () => this.decide(a, false) }, 'Deny')))),
      h('h2', {}, 'History'),
      h('table', { id: 'approval-history' },
        h('tr', {}, ['Asked', 'Agent', 'Action', 'Resource', 'Status', 'Votes', 'Used'].map((t) => h('th', {}, t))),
        done.map((a) => h('tr', { 'data-approval': a.id },
          h('td', {}, a.asked_at), h('td', {}, a.agent_id), h('td', {}, a.action), h('td', {}, a.resource),
          h('td', { class: 'status ' + (a.status === 'approved' ? 'allow' : 'deny') }, a.status), h('td', {}, votes(a)),
          h('td', {}, a.used ? 'yes' : 'no')))));
  }
}

// An SVG element (the DAG is drawn with these; no markup strings, no inline style).
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, v);
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// Lays the stages out by depth (the longest chain of `requires` before each one) in
// columns, in the pipeline's order within a column, and draws a box per stage and an
// arrow per edge: solid for `requires`, dashed for `on_failure`.
function dagSvg(stages) {
  const W = 170, H = 66, GX = 60, GY = 18, PAD = 12;
  const byName = new Map(stages.map((st) => [st.stage, st]));
  const depth = new Map();
  const depthOf = (st, seen = new Set()) => {
    if (depth.has(st.stage)) return depth.get(st.stage);
    if (seen.has(st.stage)) return 0; // a cycle is refused at load; never loop here
    seen.add(st.stage);
    const d = Math.max(-1, ...(st.requires || []).filter((r) => byName.has(r)).map((r) => depthOf(byName.get(r), seen))) + 1;
    depth.set(st.stage, d);
    return d;
  };
  stages.forEach((st) => depthOf(st));
  const rows = new Map(), pos = new Map();
  for (const st of stages) {
    const d = depth.get(st.stage), r = rows.get(d) || 0;
    rows.set(d, r + 1);
    pos.set(st.stage, { x: PAD + d * (W + GX), y: PAD + r * (H + GY) });
  }
  const cols = Math.max(1, ...[...rows.keys()].map((d) => d + 1));
  const height = PAD * 2 + Math.max(1, ...rows.values()) * (H + GY) - GY;
  const width = PAD * 2 + cols * (W + GX) - GX;
  const edge = (from, to, kind) => {
    const a = pos.get(from), b = pos.get(to);
    if (!a || !b) return null;
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    const bend = Math.max(20, (x2 - x1) / 2);
    const d = x2 > x1 ? `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`
      : `M${a.x + W / 2},${a.y + H} C${a.x + W / 2},${a.y + H + 40} ${b.x + W / 2},${b.y + H + 40} ${b.x + W / 2},${b.y + H}`;
    return svg('path', { d, class: `edge edge-${kind}`, 'data-from': from, 'data-to': to, 'marker-end': 'url(#arrow)' });
  };
  const edges = [];
  for (const st of stages) {
    for (const r of st.requires || []) edges.push(edge(r, st.stage, 'requires'));
    if (st.on_failure) edges.push(edge(st.stage, st.on_failure, 'on-failure'));
  }
  const nodes = stages.map((st) => {
    const p = pos.get(st.stage);
    const gate = st.gate ? ` · gate ${st.gate.status}` : '';
    return svg('g', { class: `node state-${st.state}`, 'data-stage': st.stage, transform: `translate(${p.x},${p.y})` },
      svg('title', {}, `${st.stage}: ${st.state}${st.message ? ` (${st.message})` : ''}`),
      svg('rect', { width: W, height: H, rx: 6 }),
      svg('text', { x: 10, y: 20, class: 'name' }, st.stage),
      svg('text', { x: 10, y: 38, class: 'kind' }, `${st.kind}${st.attempt ? ` · attempt ${st.attempt}` : ''}`),
      svg('text', { x: 10, y: 56, class: 'state' }, `${st.state}${gate}`));
  });
  return svg('svg', { id: 'dag', class: 'dag-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'the run\'s stages and their requirements' },
    svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' }))),
    edges, nodes);
}

// Pipelines: the runs, newest first; a run as its DAG (stages, states, edges) with its
// pending gates to approve or deny.
class AgPipelines extends HTMLElement {
  connectedCallback() { this.refresh(); this.timer = setInterval(() => this.refresh(), 2000); }
  disconnectedCallback() { clearInterval(this.timer); }
  async answer(st, approve) {
    const reason = await confirmAction(`${approve ? 'Approve' : 'Deny'} the gate ${st.stage} of run ${this.getAttribute('run')}?`, true);
    if (reason === null) return;
    if (!approve && !reason.trim()) { this.msg = 'a deny needs a reason'; this.refresh(); return; }
    try {
      await api('POST', `/v1/approvals/${encodeURIComponent(st.gate.approval_id)}/${approve ? 'approve' : 'deny'}`, reason.trim() ? { reason } : {});
      this.msg = `gate ${st.stage}: ${approve ? 'approved' : 'denied'}`;
    } catch (e) { this.msg = `gate ${st.stage}: ${e.message}`; }
    this.refresh();
  }
  gates(stages) {
    const open = stages.filter((st) => st.gate && st.gate.status === 'pending');
    if (!open.length) return h('p', { class: 'muted' }, 'No gate waits for an answer.');
    return h('div', { class: 'cards' }, open.map((st) => h('section', { class: 'card gate', 'data-gate': st.stage },
      h('h2', {}, `Gate ${st.stage}`),
      h('p', {}, `${st.gate.approvals.length} of ${st.gate.required} approvals; approvers: ${st.gate.approvers.length ? st.gate.approvers.join(', ') : 'anyone'}`),
      h('p', { class: 'muted' }, `deadline ${st.gate.deadline ? new Date(st.gate.deadline).toISOString() : 'none'}`),
      h('button', { class: 'primary', 'data-act': 'gate-approve', onclick: () => this.answer(st, true) }, 'Approve'), ' ',
      h('button', { class: 'danger', 'data-act': 'gate-deny', onclick: () => this.answer(st, false) }, 'Deny'))));
  }
  async refresh() {
    const id = this.getAttribute('run');
    if (document.querySelector('dialog[open]')) return; // not under an open confirmation
    try {
      if (id) {
        const run = (await api('GET', `/v1/pipelines/runs/${encodeURIComponent(id)}`)).data;
        const stages = run.stages || [];
        this.replaceChildren(
          h('h2', {}, `Run ${run.run_id}: ${run.pipeline} (`, h('span', { 'data-test': 'run-status' }, run.status), ')'),
          h('p', { class: 'muted', role: 'status' }, this.msg || ''),
          h('div', { class: 'dag-wrap' }, dagSvg(stages)),
          h('h3', {}, 'Gates'), this.gates(stages),
          h('h3', {}, 'Stages'),
          h('table', { id: 'stages' },
            h('tr', {}, ['Stage', 'Kind', 'Requires', 'State', 'Attempt', 'Message'].map((t) => h('th', {}, t))),
            stages.map((st) => h('tr', { 'data-stage': st.stage },
              h('td', {}, st.stage), h('td', {}, st.kind), h('td', {}, (st.requires || []).join(', ')),
              h('td', { class: `state-${st.state}` }, h('span', { class: 'state' }, st.state)),
              h('td', {}, st.attempt ?? ''), h('td', {}, st.message ?? '')))));
        return;
      }
      const d = (await api('GET', '/v1/pipelines/runs')).data;
      const runs = Array.isArray(d) ? d : (d.runs || []);
      this.replaceChildren(h('table', { id: 'runs' },
        h('tr', {}, ['Run', 'Pipeline', 'Status'].map((t) => h('th', {}, t))),
        runs.map((r) => h('tr', { 'data-run': r.run_id },
          h('td', {}, h('a', { href: `#/pipelines/${encodeURIComponent(r.run_id)}` }, r.run_id)),
          h('td', {}, r.pipeline ?? ''), h('td', {}, r.status ?? '')))));
    } catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
}

// Tasks: the tasks the agents work on (from their state), and one task's blackboard,
// messages, votes and metrics (its agents, its ledger entries by decision).
const SECTIONS = ['problem', 'solutions', 'progress', 'consensus'];
class AgTasks extends HTMLElement {
  connectedCallback() { this.refresh(); this.timer = setInterval(() => this.refresh(), 2000); }
  disconnectedCallback() { clearInterval(this.timer); }
  async refresh() {
    const id = this.getAttribute('task');
    try {
      const ov = (await api('GET', '/ui/api/overview')).data;
      if (!id) {
        const tasks = new Map();
        for (const a of ov.agents) {
          const t = a.state && a.state.task_id;
          if (t) tasks.set(t, [...(tasks.get(t) || []), a.agent_id]);
        }
        const open = h('input', { name: 'task', placeholder: 'task id' });
        this.replaceChildren(
          h('form', { class: 'filters', onsubmit: (ev) => { ev.preventDefault(); if (open.value.trim()) location.hash = `#/tasks/${encodeURIComponent(open.value.trim())}`; } },
            open, h('button', { type: 'submit' }, 'Open')),
          h('table', { id: 'tasks' }, h('tr', {}, ['Task', 'Agents'].map((t) => h('th', {}, t))),
            [...tasks.entries()].sort().map(([t, agents]) => h('tr', { 'data-task': t },
              h('td', {}, h('a', { href: `#/tasks/${encodeURIComponent(t)}` }, t)), h('td', {}, agents.join(', '))))));
        return;
      }
      const enc = encodeURIComponent(id);
      const boards = await Promise.all(SECTIONS.map((sec) => api('GET', `/v1/tasks/${enc}/blackboard/${sec}`).then((j) => j.data.entries)));
      const msgs = (await api('GET', `/v1/tasks/${enc}/messages`)).data.messages;
      const votes = (await api('GET', `/v1/tasks/${enc}/votes`)).data;
      const led = (await api('GET', `/v1/ledger?task=${enc}&order=desc&limit=1000`)).data.entries;
      const agents = ov.agents.filter((a) => a.state && a.state.task_id === id);
      const count = {};
      for (const e of led) { const k = e.decision || e.kind; count[k] = (count[k] || 0) + 1; }
      this.replaceChildren(h('h2', {}, `Task ${id}`),
        h('div', { class: 'cards' },
          h('section', { class: 'card', id: 'task-metrics' }, h('h2', {}, 'Metrics'),
            h('p', {}, `${agents.length} agent(s): ${agents.map((a) => `${a.agent_id} (T${a.tier}, ${a.state.phase})`).join(', ') || 'none'}`),
            h('table', {}, Object.entries(count).sort().map(([k, v]) => h('tr', {}, h('td', { class: k === 'allow' || k === 'deny' || k === 'ask' ? k : null }, k), h('td', { 'data-count': k }, v)))),
            h('p', { class: 'muted' }, `the task's last ${led.length} ledger entries`)),
          h('section', { class: 'card', id: 'task-votes' }, h('h2', {}, 'Votes'),
            h('p', { 'data-test': 'consensus' }, `${votes.reached ? 'consensus reached' : 'no consensus'}: ${votes.reason}`),
            h('p', { class: 'muted' }, `accept ${votes.accept}, reject ${votes.reject}, abstain ${votes.abstain}`),
            h('table', {}, Object.entries(votes.votes || {}).map(([who, v]) => h('tr', { 'data-voter': who },
              h('td', {}, who), h('td', {}, typeof v === 'object' && v ? (v.vote ?? JSON.stringify(v)) : String(v)),
              h('td', { class: 'muted' }, typeof v === 'object' && v ? (v.reasoning ?? '') : '')))))),
        h('h3', {}, 'Blackboard'),
        h('table', { id: 'blackboard' }, h('tr', {}, ['Section', 'Entry', 'Value'].map((t) => h('th', {}, t))),
          SECTIONS.flatMap((sec, i) => Object.entries(boards[i] || {}).map(([k, v]) => h('tr', { 'data-entry': `${sec}/${k}` },
            h('td', {}, sec), h('td', {}, k), h('td', {}, h('code', {}, typeof v === 'string' ? v : JSON.stringify(v))))))),
        h('h3', {}, 'Messages'),
        h('table', { id: 'messages' }, h('tr', {}, ['Seq', 'From', 'To', 'Type', 'Content'].map((t) => h('th', {}, t))),
          msgs.map((m) => h('tr', { 'data-seq': m.seq }, h('td', {}, m.seq), h('td', {}, m.from), h('td', {}, m.to), h('td', {}, m.type),
            h('td', {}, h('code', {}, typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))))));
    } catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
}

const PAGES = { overview: 'Overview', agents: 'Agents', approvals: 'Approvals', tasks: 'Tasks', pipelines: 'Pipelines', tail: 'Live ledger' };

class AgApp extends HTMLElement {
  async connectedCallback() {
    window.addEventListener('hashchange', () => this.render());
    try { this.signedIn(await api('GET', '/ui/api/session')); }
    catch (e) { this.replaceChildren(h('p', { class: 'error' }, e.message)); }
  }
  signedIn(j) {
    session.csrf = j.signed_in ? j.csrf_token : null;
    session.identity = j.signed_in ? j.identity : null;
    session.role = j.signed_in ? j.role : null;
    this.render();
  }
  signedOut() { session.csrf = null; session.identity = null; this.render(); }
  async signOut() {
    try { await api('DELETE', '/ui/api/session'); } catch (e) { /* the session is gone either way */ }
    this.signedOut();
  }
  render() {
    if (!session.identity) { this.replaceChildren(h('ag-signin', {})); return; }
    const [, page = session.role === 'approver' ? 'approvals' : 'overview', arg] = location.hash.split('/');
    const nav = Object.entries(PAGES).map(([k, t]) => h('a', { href: `#/${k}`, class: k === page ? 'active' : null }, t));
    let view;
    if (page === 'agent' && arg) view = h('ag-agent', { agent: decodeURIComponent(arg) });
    else if (page === 'agents') view = h('ag-agents', {});
    else if (page === 'tail') view = h('ag-tail', {});
    else if (page === 'approvals') view = h('ag-approvals', {});
    else if (page === 'tasks') view = h('ag-tasks', arg ? { task: decodeURIComponent(arg) } : {});
    else if (page === 'pipelines') view = h('ag-pipelines', arg ? { run: decodeURIComponent(arg) } : {});
    else view = h('ag-overview', {});
    this.replaceChildren(
      h('header', {}, h('strong', {}, 'agentgov'), nav, h('span', { class: 'spacer' }),
        h('span', { 'data-test': 'identity' }, `${session.identity} (${session.role})`),
        h('button', { 'data-act': 'signout', onclick: () => this.signOut() }, 'Sign out')),
      h('main', {}, view));
  }
}

customElements.define('ag-signin', AgSignin);
customElements.define('ag-overview', AgOverview);
customElements.define('ag-agents', AgAgents);
customElements.define('ag-agent', AgAgent);
customElements.define('ag-tail', AgTail);
customElements.define('ag-approvals', AgApprovals);
customElements.define('ag-tasks', AgTasks);
customElements.define('ag-pipelines', AgPipelines);
customElements.define('ag-app', AgApp);
