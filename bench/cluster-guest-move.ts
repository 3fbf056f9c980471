/**
 * A move of a real guest between two nodes (part of `npm run bench:cluster`, `--only guest-move`):
 * two node processes, each with a libvirt daemon of its own (QEMU, TCG or KVM as the probe
 * decides), a 128 MiB guest created on node-1 and moved by draining node-1 — the product's whole
 * move: the DVMS event, preparation on node-2, the live migration, the commit of the new
 * generation. Beside it, in the same run and between the same two daemons, a raw libvirt live
 * migration of a guest defined by hand (virsh, the target prepared the same way). Both are timed
 * from the request to the guest running on the target, and a 20 ms sampler of both daemons gives
 * the longest stretch in which the guest ran nowhere; the raw migration's downtime as libvirt
 * measured it is given too. Node-1 is restarted between rounds.
 */
import { LocalCluster, QEMU_HOSTS } from '../src/cli/local-cluster.js';
import { consoleLogPath } from '../src/hypervisor/libvirt/domain-xml.js';
import { LibvirtHypervisor } from '../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { guestSpec, type Host, median, virshMigrate, waitForLine } from './hypervisor-guests.js';
import { call } from './occi-call.js';

const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
const OS_TPL = 'http://schemas.discovery-cloud.org/occi/os_tpl#busybox';
const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
const GUEST_MIB = 128;
const SAMPLE_MS = 20;
const DEADLINE_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function until<T>(what: string, check: () => Promise<T | undefined>, everyMs = SAMPLE_MS): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench:cluster: ${what}: not within ${DEADLINE_MS} ms`);
    await sleep(everyMs);
  }
}

/**
 * Samples both hosts every SAMPLE_MS until stopped: the longest stretch (ms) in which the guest ran
 * on neither (the switch-over as a client of the guest would see it, whatever libvirt reports).
 */
function watchRunning(hosts: readonly Host[], id: string): () => Promise<number> {
  let sampling = true;
  let longest = 0;
  const done = (async () => {
    let since: number | undefined;
    while (sampling) {
      const states = await Promise.all(hosts.map(async (h) => (await h.hv.domainInfo(id).catch(() => undefined))?.state));
      const now = performance.now();
      if (!states.includes('running')) since ??= now;
      else if (since !== undefined) {
        longest = Math.max(longest, now - since);
        since = undefined;
      }
      await sleep(SAMPLE_MS);
    }
  })();
  return async () => {
    sampling = false;
    await done;
    return longest;
  };
}

/** One move through the product: create on node-1, drain it, wait for the guest to run on node-2. */
async function productMove(cluster: LocalCluster, hosts: [Host, Host]): Promise<{ ms: number; unseenMs: number }> {
  const [one, two] = cluster.nodes;
  const created = await call('POST', `${one!.url}/compute/`, {
    kind: COMPUTE,
    mixins: [OS_TPL, LOCALITY],
    attributes: { 'occi.compute.cores': 1, 'occi.compute.memory': GUEST_MIB / 1024, 'discovery.locality.near': one!.name },
  });
  if (created.status !== 201) throw new Error(`bench:cluster: create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const id = created.body.id as string;
  const name = (await hosts[0].hv.domainInfo(id)).name;
  await waitForLine(consoleLogPath(hosts[0].hv.layout!, name), 'discovery: heartbeat 2');
  const stop = watchRunning(hosts, id);
  const t = performance.now();
  const drain = await call('POST', `${one!.url}/.well-known/discovery/node?action=drain`);
  if (drain.status !== 202) throw new Error(`bench:cluster: drain answered ${drain.status}`);
  await until('the guest to run on node-2', async () => {
    const [a, b] = await Promise.all(hosts.map(async (h) => (await h.hv.domainInfo(id)).state));
    return a === 'absent' && b === 'running' ? true : undefined;
  });
  const ms = performance.now() - t;
  const unseenMs = await stop();
  await until('node-1 to have left', async () => ((await call('GET', `${one!.url}/.well-known/discovery/node`)).body?.drain?.state === 'left' ? true : undefined), 200);
  const removed = await call('DELETE', `${two!.url}/compute/${id}`);
  if (removed.status !== 200) throw new Error(`bench:cluster: delete answered ${removed.status}: ${JSON.stringify(removed.body)}`);
  return { ms, unseenMs };
}

/** One raw migration node-2's daemon → node-1's, of a guest no node knows of. */
async function rawMove(hosts: [Host, Host]): Promise<{ ms: number; downtimeMs: number; unseenMs: number }> {
  const [a, b] = hosts;
  const spec = guestSpec(b, GUEST_MIB);
  await b.hv.defineDomain(spec);
  await b.hv.startDomain(spec.id);
  await waitForLine(consoleLogPath(b.hv.layout!, spec.name), 'discovery: heartbeat 2');
  const stop = watchRunning(hosts, spec.id);
  const moved = await virshMigrate(b, a, spec);
  const unseenMs = await stop();
  await a.hv.stopDomain(spec.id, 'poweroff');
  await a.hv.undefineDomain(spec.id);
  return { ...moved, unseenMs };
}

export interface GuestMoveResult {
  guest_mib: number;
  rounds: number;
  accelerator: string;
  product_move_ms_p50: number;
  product_running_nowhere_ms_p50: number;
  raw_migration_ms_p50: number;
  raw_running_nowhere_ms_p50: number;
  /** What libvirt measured of the raw migration's downtime (the product reads and logs its own). */
  raw_downtime_ms_p50: number;
  /** raw / product: 1.0 when the product's move costs no more than the migration it makes. */
  ratio_time: number;
}

export async function guestMove(rounds: number, log: (line: string) => void): Promise<GuestMoveResult> {
  log('guest move: two node processes, each with a libvirt daemon of its own');
  const cluster = await LocalCluster.start({ nodes: 2, hypervisor: QEMU_HOSTS, auth: 'none' });
  const hosts: Host[] = [];
  try {
    await cluster.waitForMembership();
    for (const n of cluster.nodes) hosts.push({ daemon: n.daemon!, hv: await LibvirtHypervisor.open(n.daemon!.uri) });
    const pair = hosts as [Host, Host];
    const product: Array<{ ms: number; unseenMs: number }> = [];
    const raw: Array<{ ms: number; downtimeMs: number; unseenMs: number }> = [];
    for (let r = 0; r < rounds; r++) {
      log(`guest move: round ${r + 1}/${rounds}: drain node-1`);
      product.push(await productMove(cluster, pair));
      log(`guest move: round ${r + 1}/${rounds}: raw migration (virsh)`);
      raw.push(await rawMove(pair));
      await cluster.kill(0, 'SIGTERM');
      await cluster.restart(0);
      await cluster.waitForMembership();
    }
    const p50 = (xs: number[]) => Math.round(median(xs));
    const result: GuestMoveResult = {
      guest_mib: GUEST_MIB,
      rounds,
      accelerator: pair[0].hv.accelerator?.reason ?? pair[0].hv.domainType,
      product_move_ms_p50: p50(product.map((p) => p.ms)),
      product_running_nowhere_ms_p50: p50(product.map((p) => p.unseenMs)),
      raw_migration_ms_p50: p50(raw.map((x) => x.ms)),
      raw_running_nowhere_ms_p50: p50(raw.map((x) => x.unseenMs)),
      raw_downtime_ms_p50: p50(raw.map((x) => x.downtimeMs)),
      ratio_time: 0,
    };
    result.ratio_time = Math.round((result.raw_migration_ms_p50 / result.product_move_ms_p50) * 100) / 100;
    return result;
  } finally {
    for (const h of hosts) await h.hv.close();
    await cluster.close();
  }
}
