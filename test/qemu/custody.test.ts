import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster, QEMU_HOSTS } from '../../src/cli/local-cluster.js';
import type { DomainState } from '../../src/hypervisor/hypervisor.js';
import { LibvirtHypervisor } from '../../src/hypervisor/libvirt/libvirt-hypervisor.js';
import { occiClient } from '../helpers/client.js';
import { COMPUTE } from '../helpers/node.js';
import { until } from '../helpers/mesh-cluster.js';
import { BOOT_TIMEOUT_MS, GUEST_MEMORY_GIB, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, marker, OS_TPL, sleep, USER_DATA, waitForConsole } from './qemu-helpers.js';

/**
 * The custody of a real guest between two nodes, each with a libvirt daemon of its own: a node
 * frozen past its lease has its guest paused by the lease watchdog and resumed when it thaws;
 * a drain moves the running guest live. A sampler reads both daemons' domain lists every 200 ms
 * throughout: the guest never runs on both at once.
 */
const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
const SAMPLE_MS = 200;
/** The guest writes a note to its disk, prints it back every 2 s, and dirties 16 MiB of memory without pause. */
const USER_SCRIPT = [
  '#!/bin/sh',
  'echo "note-$(cat /proc/sys/kernel/random/uuid)" > /var/lib/discovery/note; sync',
  'while :; do dd if=/dev/urandom of=/run/dirty bs=1M count=16 2>/dev/null; done &',
  'while :; do echo "discovery: note $(cat /var/lib/discovery/note)"; sleep 2; done',
].join('\n');

interface Sample {
  at: number;
  states: DomainState[];
}

let cluster: LocalCluster;
let hosts: LibvirtHypervisor[];
let id: string;
const samples: Sample[] = [];
let sampling = true;
let sampler: Promise<void> | undefined;
/** The highest heartbeat seen on node-1's serial log while the guest moves. */
let lastSeen = 0;

function note(console: string): string | undefined {
  return [...console.matchAll(/discovery: note (note-[0-9a-f-]+)/g)].pop()?.[1];
}

function heartbeats(console: string): number[] {
  return [...console.matchAll(/discovery: heartbeat (\d+)/g)].map((m) => Number(m[1]));
}

async function sample(): Promise<void> {
  while (sampling) {
    const at = Date.now();
    const lists = await Promise.all(hosts.map((h) => h.listDomains().catch(() => [])));
    if (id !== undefined) samples.push({ at, states: lists.map((l) => l.find((d) => d.id === id)?.state ?? 'absent') });
    await sleep(Math.max(0, SAMPLE_MS - (Date.now() - at)));
  }
}

/** The longest stretch (ms) of samples since `from` in which no host ran the guest. */
function longestStop(from: number): number {
  let longest = 0;
  let stoppedAt: number | undefined;
  for (const s of samples.filter((x) => x.at >= from)) {
    const running = s.states.includes('running');
    if (!running) stoppedAt ??= s.at;
    else if (stoppedAt !== undefined) {
      longest = Math.max(longest, s.at - stoppedAt);
      stoppedAt = undefined;
    }
  }
  return longest;
}

beforeAll(async () => {
  cluster = await LocalCluster.start({ nodes: 2, hypervisor: QEMU_HOSTS, auth: 'none' });
  await cluster.waitForMembership();
  hosts = await Promise.all(cluster.nodes.map((n) => LibvirtHypervisor.open(n.daemon!.uri)));
  sampler = sample();
}, BOOT_TIMEOUT_MS);

afterAll(async () => {
  sampling = false;
  await sampler;
  await Promise.all((hosts ?? []).map((h) => h.close()));
  await cluster?.close();
}, BOOT_TIMEOUT_MS);

describe('custody of a real guest', () => {
  it('a node frozen past its lease: the watchdog pauses its guest while it is frozen, and the guest runs on (not rebooted) when it thaws', async () => {
    const first = occiClient(cluster.nodes[0]!.url);
    const res = await first.post('/compute/', {
      kind: COMPUTE,
      mixins: [OS_TPL, LOCALITY, USER_DATA],
      attributes: {
        'occi.compute.cores': 1,
        'occi.compute.memory': GUEST_MEMORY_GIB,
        'discovery.locality.near': 'node-1',
        'occi.compute.userdata': Buffer.from(USER_SCRIPT).toString('base64'),
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.attributes['discovery.placement.node']).toBe('node-1');
    const location = res.headers.location as string;
    id = location.slice(location.lastIndexOf('/') + 1);
    const before = await waitForConsole(first, location, (c) => lastHeartbeat(c) >= 5 && note(c) !== undefined && marker(c) !== undefined);

    const frozenAt = Date.now();
    cluster.freeze(0, true);
    try {
      // Only the watchdog can pause it now: the node's process is stopped.
      const pausedAt = await until('the watchdog to pause the guest', async () => ((await hosts[0]!.domainInfo(id)).state === 'paused' ? Date.now() : undefined), 15_000);
      const frozenFor = pausedAt - frozenAt;
      console.log(`custody: guest paused by the watchdog ${frozenFor} ms after its node froze (lease 5 s)`);
      expect(frozenFor).toBeLessThan(6_000);
      await sleep(2_000);
      expect((await hosts[0]!.domainInfo(id)).state).toBe('paused');
    } finally {
      cluster.freeze(0, false);
    }
    await until('the guest to run again', async () => (await hosts[0]!.domainInfo(id)).state === 'running', 20_000);
    const after = await waitForConsole(first, location, (c) => lastHeartbeat(c) >= lastHeartbeat(before) + 3);
    // The same boot, the heartbeat counter continued: paused, not restarted.
    expect(after.match(/discovery: boot \d+/g)).toEqual(['discovery: boot 1']);
    const beats = heartbeats(after);
    expect(beats.every((b, i) => i === 0 || b === beats[i - 1]! + 1)).toBe(true);
    expect((await hosts[1]!.listDomains()).find((d) => d.id === id)).toBeUndefined();
    expect((await first.get(location)).body.attributes['occi.compute.state']).toBe('active');
  }, GUEST_TEST_TIMEOUT_MS);

  it('a drain moves the guest live while it dirties memory: counter, marker and the note on its disk go with it', async () => {
    const [one, two] = cluster.nodes;
    const location = `/compute/${id}`;
    const source = await waitForConsole(occiClient(one!.url), location, (c) => note(c) !== undefined && marker(c) !== undefined);
    const [theMarker, theNote] = [marker(source), note(source)];
    const movedFrom = Date.now();
    const started = await supertest(one!.url).post('/.well-known/discovery/node?action=drain');
    expect(started.status).toBe(202);
    const lastOnSource = await until('the guest to leave node-1', async () => {
      const text = await hosts[0]!.consoleLog(id).catch(() => undefined);
      if (text !== undefined) lastSeen = Math.max(lastSeen, lastHeartbeat(text));
      return (await hosts[0]!.domainInfo(id)).state === 'absent' ? lastSeen : undefined;
    }, 120_000);
    await until('node-1 to have left', async () => (await supertest(one!.url).get('/.well-known/discovery/node')).body.drain?.state === 'left', 60_000);
    const second = occiClient(two!.url);
    const compute = await second.get(location);
    expect(compute.status).toBe(200);
    expect(compute.body.attributes).toMatchObject({ 'discovery.placement.node': 'node-2', 'occi.compute.state': 'active', 'discovery.placement.generation': 2 });
    const target = await waitForConsole(second, location, (c) => lastHeartbeat(c) >= lastOnSource + 6 && note(c) !== undefined);
    // The target's serial log starts at the move: no boot, the counter goes on from the source's.
    expect(target).not.toMatch(/discovery: boot/);
    const beats = heartbeats(target);
    console.log(`custody: moved live in ${Date.now() - movedFrom} ms (drain to the node gone); heartbeat ${lastOnSource} on node-1, ${beats[0]} first on node-2; longest time running nowhere ${longestStop(movedFrom)} ms`);
    expect(beats[0]).toBeGreaterThan(lastOnSource);
    expect(beats[0]! - lastOnSource).toBeLessThanOrEqual(5);
    expect(marker(target)).toBe(theMarker);
    expect(note(target)).toBe(theNote);
  }, GUEST_TEST_TIMEOUT_MS);

  it('the guest never ran on both hosts at once', () => {
    expect(samples.length).toBeGreaterThan(50);
    const both = samples.filter((s) => s.states.filter((x) => x === 'running').length > 1);
    expect(both).toEqual([]);
  });
});
