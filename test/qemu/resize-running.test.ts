import { describe, expect, it } from 'vitest';
import { COMPUTE } from '../helpers/node.js';
import { computeAction, createGuest, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, stateOf, useQemuNode, waitForConsole } from './qemu-helpers.js';

const suite = useQemuNode();

describe('resizing a running real guest', () => {
  it('more cores while it runs, or memory it cannot change live, is 409 and the guest runs on; stopped, it takes the new size', async () => {
    const { location, id } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 1);
    const cores = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.cores': 2 } });
    expect(cores.status).toBe(409);
    expect(cores.body.error).toMatchObject({ code: 'STATE_CONFLICT', message: expect.stringContaining('it runs with at most 1 core; stop the compute first, or resize within 1 core') });
    // Within its maximum, but the guest has no balloon: qemu cannot take memory back live.
    const memory = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.memory': 0.0625 } });
    expect(memory.status).toBe(409);
    expect(memory.body.error).toMatchObject({ code: 'STATE_CONFLICT', message: expect.stringMatching(/the hypervisor cannot change it live \(.+\); stop the compute first$/) });
    expect(await stateOf(suite.occi, location)).toBe('active');
    expect(await suite.hv.domainInfo(id)).toMatchObject({ state: 'running', cores: 1, memoryMiB: 128 });
    await computeAction(suite.occi, location, 'stop', { method: 'poweroff' });
    const stopped = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.cores': 2 } });
    expect(stopped.status, stopped.text).toBe(200);
    expect((await computeAction(suite.occi, location, 'start'))['occi.compute.state']).toBe('active');
    expect(await suite.hv.domainInfo(id)).toMatchObject({ state: 'running', cores: 2 });
  }, GUEST_TEST_TIMEOUT_MS);
});
