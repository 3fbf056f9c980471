import { describe, expect, it } from 'vitest';
import { bootCount, computeAction, consoleOf, createGuest, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, sleep, stateOf, useQemuNode, waitForConsole } from './qemu-helpers.js';

const suite = useQemuNode();

describe('actions have the guest\'s real behaviour', () => {
  it('suspend freezes the heartbeat; resume (start) continues it where it was', async () => {
    const { location, id } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 2);
    expect((await computeAction(suite.occi, location, 'suspend', { method: 'suspend' }))['occi.compute.state']).toBe('suspended');
    expect((await suite.hv.domainInfo(id)).state).toBe('paused');
    const frozen = lastHeartbeat(await consoleOf(suite.occi, location));
    await sleep(4000);
    expect(lastHeartbeat(await consoleOf(suite.occi, location))).toBe(frozen);
    expect(await stateOf(suite.occi, location)).toBe('suspended');
    expect((await computeAction(suite.occi, location, 'start'))['occi.compute.state']).toBe('active');
    const console = await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= frozen + 2);
    expect(console).toContain(`discovery: heartbeat ${frozen + 1}\n`);
    expect(bootCount(console)).toBe(1);
  }, GUEST_TEST_TIMEOUT_MS);

  it('save puts the running guest on disk; start restores it and the heartbeat continues (not from 0)', async () => {
    const { location, id } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 3);
    expect((await computeAction(suite.occi, location, 'save'))['occi.compute.state']).toBe('suspended');
    expect((await suite.hv.domainInfo(id)).state).toBe('saved');
    expect(await stateOf(suite.occi, location)).toBe('suspended');
    const saved = lastHeartbeat(await consoleOf(suite.occi, location));
    expect((await computeAction(suite.occi, location, 'start'))['occi.compute.state']).toBe('active');
    const console = await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= saved + 2);
    expect(console).toContain(`discovery: heartbeat ${saved + 1}\n`);
    expect(bootCount(console)).toBe(1);
  }, GUEST_TEST_TIMEOUT_MS);

  it('a named save is a snapshot of the running guest, which keeps running', async () => {
    const { location, id } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 1);
    expect((await computeAction(suite.occi, location, 'save', { method: 'hot', name: 'before-upgrade' }))['occi.compute.state']).toBe('active');
    expect(await suite.hv.hasSnapshot(id, 'before-upgrade')).toBe(true);
    const at = lastHeartbeat(await consoleOf(suite.occi, location));
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) > at);
  }, GUEST_TEST_TIMEOUT_MS);
});
