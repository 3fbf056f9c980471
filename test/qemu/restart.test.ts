import { describe, expect, it } from 'vitest';
import { bootCount, computeAction, createGuest, GUEST_TEST_TIMEOUT_MS, lastHeartbeat, stateOf, useQemuNode, waitForConsole } from './qemu-helpers.js';

// Its own file (three boots): it runs beside the other suites.
const suite = useQemuNode();

describe('restart has the guest\'s real behaviour', () => {
  it('restart increments the boot count kept on the guest\'s disk: warm (ACPI reboot), then cold (reset)', async () => {
    const { location } = await createGuest(suite);
    await waitForConsole(suite.occi, location, (c) => bootCount(c) === 1 && lastHeartbeat(c) >= 1);
    expect((await computeAction(suite.occi, location, 'restart', { method: 'warm' }))['occi.compute.state']).toBe('active');
    let console = await waitForConsole(suite.occi, location, (c) => bootCount(c) === 2);
    // Warm: the guest shut itself down on the button, and came back.
    expect(console).toContain('discovery: power button: powering off');
    await waitForConsole(suite.occi, location, (c) => bootCount(c) === 2 && /boot 2[\s\S]*heartbeat 1\n/.test(c));
    await computeAction(suite.occi, location, 'restart', { method: 'cold' });
    console = await waitForConsole(suite.occi, location, (c) => bootCount(c) === 3);
    expect(console.match(/power button/g)).toHaveLength(1);
    expect(await stateOf(suite.occi, location)).toBe('active');
  }, GUEST_TEST_TIMEOUT_MS);
});
