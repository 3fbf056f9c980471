import { describe, expect, it } from 'vitest';
import { computeAction, consoleOf, createGuest, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, stateOf, useQemuNode, waitForConsole } from './qemu-helpers.js';

const suite = useQemuNode();

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiscoveryTestKeyOnlyForTheSuite test@discovery';
const USER_DATA = '#cloud-config\nmessage: hello from the OCCI user_data mixin\n';

describe('a compute is a real guest', () => {
  it('boots, and its console shows the heartbeat, its hostname, the user data and the SSH key it received', async () => {
    const { location, id } = await createGuest(suite, { hostname: 'guest-one', userData: USER_DATA, sshKey: KEY });
    expect(await stateOf(suite.occi, location)).toBe('active');
    const console = await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 2);
    expect(console).toContain(`discovery: instance-id ${id}`);
    expect(console).toContain('discovery: hostname guest-one');
    expect(console).toContain('discovery: user-data: message: hello from the OCCI user_data mixin');
    // The key travels as ssh_authorized_keys in the cloud-config and as public-keys in the meta-data: the guest authorizes it once.
    expect(console).toContain('discovery: user-data: ssh_authorized_keys:');
    expect(console.match(new RegExp(`discovery: ssh-key ${KEY}`, 'g'))).toHaveLength(1);
    expect(console).toContain('discovery: boot 1');
    // KVM where a probe guest boots under it, TCG otherwise: the guest runs under what the host chose (the node's first log line gives the reason).
    const accelerator = suite.hv.accelerator!;
    expect(accelerator.reason).toMatch(accelerator.domainType === 'kvm' ? /^KVM: / : /^TCG: /);
    expect(await suite.hv.domainXml(id)).toMatch(new RegExp(`<domain type=['"]${accelerator.domainType}['"]`));
    // The node's description says it too.
    const view = await suite.occi.get('/.well-known/discovery/node', { Accept: 'application/json' });
    expect(view.status).toBe(200);
    expect(view.body.hypervisor).toContain(accelerator.reason);
    // ?lines= keeps the tail only.
    expect((await consoleOf(suite.occi, location, 3)).trimEnd().split('\n')).toHaveLength(3);
  }, GUEST_TEST_TIMEOUT_MS);

  it('stops gracefully: the guest powers itself off on the ACPI button, and the compute is inactive', async () => {
    const { location, id } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => lastHeartbeat(c) >= 1);
    const started = Date.now();
    const after = await computeAction(suite.occi, location, 'stop', { method: 'graceful' });
    expect(after['occi.compute.state']).toBe('inactive');
    // Well within the driver's stop timeout (30 s): the guest did it, nothing destroyed it.
    expect(Date.now() - started).toBeLessThan(25_000);
    const console = await consoleOf(suite.occi, location);
    expect(console).toContain('discovery: power button: powering off');
    expect(console).toMatch(/reboot: Power down/);
    expect((await suite.hv.domainInfo(id)).state).toBe('shutoff');
    expect(await stateOf(suite.occi, location)).toBe('inactive');
  }, GUEST_TEST_TIMEOUT_MS);

  it('a guest that powers itself off behind the gateway shows inactive', async () => {
    const { location } = await createGuest(suite, { userData: '#!/bin/sh\nsleep 2\necho "the user-data script powers the guest off"\nsync\npoweroff -f\n' });
    // The script's own line, not the console's echo of the user data ("discovery: user-data: …").
    await waitForConsole(suite.occi, location, (c) => /^the user-data script powers the guest off$/m.test(c));
    const deadline = Date.now() + 30_000;
    while ((await stateOf(suite.occi, location)) !== 'inactive' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(await stateOf(suite.occi, location)).toBe('inactive');
  }, GUEST_TEST_TIMEOUT_MS);
});
