import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import createTestnet, { type Testnet } from 'hyperdht/testnet.js';
import supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { occiClient } from '../helpers/client.js';
import { small, until } from '../helpers/mesh-cluster.js';
import { type NodeProcess, startNodeProcess } from '../helpers/process-node.js';

/** Separate node processes; one is killed with SIGKILL and started again from its data directory. */
const NAMES = ['kp-a', 'kp-b', 'kp-c'];
let testnet: Testnet;
const dirs: string[] = [];
const procs: Array<NodeProcess | undefined> = [];

const args = (i: number) => [
  '--name', NAMES[i]!,
  '--data-dir', dirs[i]!,
  '--hypervisor', 'sim:///?cores=2&memoryMiB=2048',
  '--bootstrap', testnet.bootstrap.map((b) => `${b.host}:${b.port}`).join(','),
  '--rate-limit', '0',
];

/** The cluster secret goes in the environment, never on a command line (ps shows it). */
const SECRET = { DISCOVERY_CLUSTER_SECRET: 'crash-process-test' };

const LOGS = ['', '', '', ''];
const info = async (url: string) => (await supertest(url).get('/.well-known/discovery/node')).body as { computes: string[]; members: unknown[]; fenced: boolean | null };

beforeAll(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' });
  for (let i = 0; i < NAMES.length; i++) dirs.push(mkdtempSync(join(tmpdir(), `crash-process-${i}-`)));
  // One at a time: each process compiles the sources at start, and the machine has two cores.
  for (let i = 0; i < NAMES.length; i++) procs.push(await startNodeProcess(args(i), SECRET));
  procs.forEach((p, i) => p!.child.stdout!.on('data', (d: Buffer) => (LOGS[i] += d.toString())));
  for (const p of procs) await until('full membership', async () => (await info(p!.url)).members.length === NAMES.length - 1, 30_000);
}, 60_000);

afterAll(async () => {
  if (process.env['DEBUG_LOGS']) LOGS.forEach((l, i) => console.log(NAMES[i], l.split('\n').filter((x) => /failures|cloud|member|partition|event|restart|replica/.test(x)).map((x) => x.slice(0, 300)).join('\n')));
  await Promise.allSettled(procs.map((p) => p?.kill('SIGKILL')));
  await testnet?.destroy();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('a node process killed with SIGKILL', () => {
  it('has its computes running elsewhere once each, and does not resurrect them when it restarts', async () => {
    const a = procs[0]!;
    const ids: string[] = [];
    for (const t of ['kp-1', 'kp-2']) {
      const res = await occiClient(a.url).post('/compute/', small(t));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.attributes['discovery.placement.node']).toBe('kp-a');
      ids.push(res.body.id);
    }
    const b = occiClient(procs[1]!.url);
    const t0 = Date.now();
    await a.kill('SIGKILL');
    procs[0] = undefined;
    for (const id of ids) {
      await until(`${id} running on another node`, async () => {
        const res = await b.get(`/compute/${id}`);
        return res.status === 200 && res.body.attributes['discovery.placement.node'] !== 'kp-a' && res.body.attributes['occi.compute.state'] === 'active';
      }, 40_000, 100);
    }
    console.log(`SIGKILL: ${ids.length} computes running elsewhere ${Date.now() - t0} ms after the kill`);
    const listed = (await b.get('/compute/')).body.resources.map((r: { id: string }) => r.id);
    for (const id of ids) expect(listed.filter((x: string) => x === id)).toHaveLength(1);

    // Back from its data directory: it learns they moved and forgets them.
    const back = await startNodeProcess(args(0), SECRET);
    procs[0] = back;
    await until('the restarted node fenced', async () => (await info(back.url)).fenced === true, 40_000);
    expect((await info(back.url)).computes).toEqual([]);
    // It finds the computes through its members: wait until it sees every one of them again.
    await until('the restarted node back in full membership', async () => (await info(back.url)).members.length === NAMES.length - 1, 30_000);
    for (const id of ids) {
      const res = await occiClient(back.url).get(`/compute/${id}`);
      expect(res.status).toBe(200);
      expect(['kp-b', 'kp-c']).toContain(res.body.attributes['discovery.placement.node']);
      expect(res.body.attributes['discovery.placement.generation']).toBe(2);
    }
    const again = (await occiClient(back.url).get('/compute/')).body.resources.map((r: { id: string }) => r.id);
    for (const id of ids) expect(again.filter((x: string) => x === id)).toHaveLength(1);
  }, 90_000);
});
