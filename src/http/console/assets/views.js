// The console's panels: sign-in, the node list, the computes with their actions, the create form,
// a compute's console log and the recent events. Pure templates over the state app.js keeps.
import { html, nothing } from './vendor/lit-html/lit-html.js';
import { rttBand } from './plane.js';

const STATE = 'occi.compute.state';
const NODE = 'discovery.placement.node';
/** Actions a compute offers in each state (the OCCI compute state diagram). */
const ACTIONS = { active: ['stop', 'suspend', 'restart'], inactive: ['start'], suspended: ['start'], error: ['start', 'stop'] };

export function signInView(error, onSubmit) {
  const submit = (e) => {
    e.preventDefault();
    onSubmit(new FormData(e.target).get('token').trim());
  };
  return html`<section class="signin">
    <h1>DISCOVERY console</h1>
    <p>Sign in with a token: an admin token, or a tenant's (<code>npm run token -- create --tenant …</code>).</p>
    <form @submit=${submit}>
      <input name="token" data-testid="token" type="password" autocomplete="off" placeholder="dsc1.…" required>
      <button data-testid="signin" type="submit">Sign in</button>
    </form>
    ${error ? html`<p class="error" data-testid="signin-error">${error}</p>` : nothing}
  </section>`;
}

export function headerView(s, onSignOut) {
  return html`<header>
    <h1>DISCOVERY</h1>
    <span data-testid="whoami">${s.mesh?.admin ? 'admin' : `tenant ${s.mesh?.tenant ?? ''}`} · through ${s.mesh?.node ?? '…'}</span>
    <span class=${`stream ${s.stream}`} data-testid="stream">events: ${s.stream}</span>
    ${s.mesh?.partial?.length ? html`<span class="error">not answering: ${s.mesh.partial.join(', ')}</span>` : nothing}
    <button @click=${onSignOut} data-testid="signout">Sign out</button>
  </header>`;
}

export function nodeListView(nodes, entry) {
  const here = nodes.find((n) => n.name === entry);
  return html`<table class="nodes" data-testid="node-list">
    <thead><tr><th>node</th><th>site</th><th>cpu %</th><th>mem MiB</th><th>computes</th><th>RTT</th><th>partition</th></tr></thead>
    <tbody>${nodes.map((n) => {
      const rtt = n.name === entry ? 0 : here?.rtts?.[n.name];
      return html`<tr data-node=${n.name}>
        <td>${n.name}</td><td>${n.site ?? '-'}</td>
        <td>${n.capacity ? `${Math.round(n.load?.cpu ?? 0)} / ${n.capacity.cpu}` : '-'}</td>
        <td>${n.capacity ? `${Math.round(n.load?.mem ?? 0)} / ${n.capacity.mem}` : '-'}</td>
        <td>${n.computes.length}</td>
        <td>${rtt === undefined ? '-' : html`<span class=${`rtt-dot ${rttBand(rtt)}`}></span>${Math.round(rtt)} ms`}</td>
        <td>${n.partition ? n.partition.slice(0, 8) : '-'}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

export function createView(templates, nodes, busy, onCreate) {
  const sites = [...new Set(nodes.map((n) => n.site).filter(Boolean))];
  const submit = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    onCreate(String(f.get('title')), String(f.get('template')), String(f.get('near')));
  };
  return html`<form class="create" data-testid="create-form" @submit=${submit}>
    <h2>New compute</h2>
    <label>title <input name="title" data-testid="create-title" value="web" required></label>
    <label>size <select name="template" data-testid="create-template">
      <option value="">default</option>
      ${templates.map((t) => html`<option value=${t.term} ?selected=${t.term === 'small'}>${t.title ?? t.term}</option>`)}
    </select></label>
    <label>near <select name="near" data-testid="create-near">
      <option value="">this node (${nodes[0]?.name ?? ''})</option>
      ${sites.map((s) => html`<option value=${s}>site ${s}</option>`)}
      ${nodes.map((n) => html`<option value=${n.name}>node ${n.name}</option>`)}
    </select></label>
    <button type="submit" data-testid="create" ?disabled=${busy}>Create</button>
  </form>`;
}

export function computesView(computes, owners, onAction, selected) {
  return html`<table class="computes" data-testid="computes">
    <thead><tr><th>title</th><th>id</th><th>node</th><th>state</th><th>owner</th><th></th></tr></thead>
    <tbody>${computes.map((c) => {
      const state = c.attributes?.[STATE] ?? '?';
      return html`<tr data-compute=${c.id} class=${c.id === selected ? 'selected' : ''}>
        <td class="title">${c.title ?? c.attributes?.['occi.core.title'] ?? ''}</td>
        <td class="id">${c.id.slice(0, 8)}</td>
        <td class="node" data-testid="compute-node">${c.attributes?.[NODE] ?? '-'}</td>
        <td class=${`state ${state}`} data-testid="compute-state">${state}</td>
        <td class="owner" data-testid="compute-owner">${owners.get(c.id) ?? '-'}</td>
        <td class="actions">
          ${(ACTIONS[state] ?? []).map((a) => html`<button data-action=${a} @click=${() => onAction(c.id, a)}>${a}</button>`)}
          <button data-action="console" @click=${() => onAction(c.id, 'console')}>console</button>
          <button data-action="delete" class="danger" @click=${() => onAction(c.id, 'delete')}>delete</button>
        </td>
      </tr>`;
    })}</tbody>
  </table>`;
}

export function consoleLogView(log) {
  if (!log) return nothing;
  return html`<section class="console-log"><h2>Console of ${log.id.slice(0, 8)}</h2><pre data-testid="console-log">${log.text}</pre></section>`;
}

const clock = (at) => new Date(at).toTimeString().slice(0, 8);

function describe(e) {
  const d = e.data ?? {};
  switch (e.type) {
    case 'migration.started':
      return `${d.vm?.slice(0, 8)} ${d.from} → ${d.to}`;
    case 'migration.ended':
      return `${d.vm?.slice(0, 8)} ${d.ok ? 'done' : 'failed'}${d.durationMs != null ? ` in ${d.durationMs} ms` : ''}`;
    case 'compute.state':
      return `${d.title ?? d.id?.slice(0, 8)} ${d.from} → ${d.to}`;
    case 'partition.solved':
      return `${d.kind}: ${d.size} nodes, ${d.migrations} migrations${d.solveMs != null ? `, solved in ${Math.round(d.solveMs)} ms` : ''}`;
    case 'member.joined':
    case 'member.left':
      return `${d.member}${d.reason ? ` (${d.reason})` : ''}`;
    default:
      return d.title ?? d.id?.slice(0, 8) ?? d.pid?.slice(0, 8) ?? d.kind ?? '';
  }
}

export function eventsView(events) {
  return html`<section class="events"><h2>Events</h2><ol data-testid="events">
    ${events.map((e) => html`<li data-type=${e.type}><time>${clock(e.at)}</time> <b>${e.node}</b> ${e.type} <span>${describe(e)}</span></li>`)}
  </ol></section>`;
}
