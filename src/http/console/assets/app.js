// The console: signs in with a token, then keeps the mesh view, the computes and the event stream
// of the node it was loaded from, and renders them (lit-html). Every change goes through the
// node's public OCCI API with that token, so a tenant sees and acts on its own computes only.
import { html, render, nothing } from './vendor/lit-html/lit-html.js';
import { createApi } from './api.js';
import { openStream } from './stream.js';
import { planeView } from './plane.js';
import { computesView, consoleLogView, createView, eventsView, headerView, nodeListView, signInView } from './views.js';

const TOKEN_KEY = 'discovery.console.token';
const REFRESH_MS = 5000;
/** A migration stays drawn this long after it ended. */
const MIGRATION_AFTERGLOW_MS = 10_000;
const EVENTS_SHOWN = 60;

const root = document.getElementById('console');
root.textContent = '';
let s = fresh();

function fresh() {
  return { token: null, api: null, mesh: null, computes: [], templates: [], events: [], partitions: new Map(), migrations: new Map(), stream: 'off', status: '', busy: false, log: null, stop: () => undefined };
}

function update(change) {
  Object.assign(s, change);
  draw();
}

function draw() {
  if (!s.api) return render(signInView(s.status, signIn), root);
  const nodes = s.mesh?.nodes ?? [];
  const owners = new Map(nodes.flatMap((n) => n.computes.map((c) => [c.id, c.owner])));
  const partitions = new Map([...nodes.filter((n) => n.partition).map((n) => [n.name, n.partition]), ...s.partitions]);
  render(
    html`${headerView(s, signOut)}
      ${s.status ? html`<p class="status" data-testid="status">${s.status}</p>` : nothing}
      <section class="mesh">
        <div class="plane-box">${planeView(nodes, partitions, [...s.migrations.values()])}</div>
        ${nodeListView(nodes, s.mesh?.node)}
      </section>
      <section class="work">
        <div>${createView(s.templates, nodes, s.busy, create)}${computesView(s.computes, owners, act, s.log?.id)}${consoleLogView(s.log)}</div>
        ${eventsView(s.events)}
      </section>`,
    root,
  );
}

async function signIn(token) {
  const api = createApi(token);
  try {
    const [mesh, computes, templates] = await Promise.all([api.mesh(), api.computes(), api.templates()]);
    sessionStorage.setItem(TOKEN_KEY, token);
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    const closeStream = openStream(token, { onEvent: onEvent, onState: (stream) => update({ stream }) });
    update({ token, api, mesh, computes, templates, status: '', stop: () => (clearInterval(timer), closeStream()) });
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    update({ status: err.status === 401 ? 'This token is not valid here (refused by the node).' : `Cannot reach the node: ${err.message}` });
  }
}

function signOut() {
  s.stop();
  sessionStorage.removeItem(TOKEN_KEY);
  s = fresh();
  draw();
}

let refreshing;
let again = false;
/** Reads the mesh view and the computes again (one read at a time; one more if asked meanwhile). */
async function refresh() {
  if (refreshing) return void (again = true);
  refreshing = (async () => {
    try {
      const [mesh, computes] = await Promise.all([s.api.mesh(), s.api.computes()]);
      if (s.api) update({ mesh, computes });
    } catch (err) {
      if (err.status === 401) return signOut();
      update({ status: `refresh failed: ${err.message}` });
    }
  })();
  await refreshing;
  refreshing = undefined;
  if (again) {
    again = false;
    void refresh();
  }
}

let pending;
/** Events come in bursts: one refresh for a burst. */
function refreshSoon() {
  clearTimeout(pending);
  pending = setTimeout(() => void refresh(), 250);
}

function onEvent(type, e) {
  if (type === 'gap') return refreshSoon();
  s.events = [e, ...s.events].slice(0, EVENTS_SHOWN);
  const d = e.data ?? {};
  if (type === 'partition.joined') s.partitions.set(e.node, d.pid);
  if (type === 'partition.left' && s.partitions.get(e.node) === d.pid) s.partitions.delete(e.node);
  if (type === 'partition.released') for (const [node, pid] of s.partitions) if (pid === d.pid) s.partitions.delete(node);
  if (type === 'migration.started') s.migrations.set(d.vm, { vm: d.vm, from: d.from, to: d.to, phase: 'started' });
  if ((type === 'migration.progress' || type === 'migration.ended') && s.migrations.has(d.vm)) {
    s.migrations.get(d.vm).phase = d.phase;
    if (type === 'migration.ended') setTimeout(() => (s.migrations.delete(d.vm), draw()), MIGRATION_AFTERGLOW_MS);
  }
  if (type.startsWith('compute.') || type.startsWith('migration.') || type.startsWith('member.')) refreshSoon();
  draw();
}

async function create(title, template, near) {
  update({ busy: true, status: near ? `creating ${title} near ${near}…` : `creating ${title}…` });
  try {
    const made = await s.api.create(title, template, near);
    update({ status: `${title} created on ${made.attributes?.['discovery.placement.node'] ?? 'a node'}` });
  } catch (err) {
    update({ status: `creation refused: ${err.message}` });
  } finally {
    update({ busy: false });
    void refresh();
  }
}

async function act(id, action) {
  try {
    if (action === 'console') return update({ log: { id, text: await s.api.consoleLog(id).catch((err) => `(no console: ${err.message})`) } });
    update({ status: `${action} ${id.slice(0, 8)}…` });
    if (action === 'delete') await s.api.remove(id);
    else await s.api.act(id, action);
    update({ status: `${action} ${id.slice(0, 8)}: done`, ...(action === 'delete' && s.log?.id === id ? { log: null } : {}) });
  } catch (err) {
    update({ status: `${action} refused: ${err.message}` });
  }
  void refresh();
}

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved);
else draw();
