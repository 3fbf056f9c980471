import { describe, expect, it } from 'vitest';
import { STOP_TIMEOUT_ENV } from '../../src/hypervisor/select-driver.js';
import { computeAction, consoleOf, createGuest, GUEST_TEST_TIMEOUT_MS, useQemuNode, waitForConsole } from './qemu-helpers.js';

// This file's node only (vitest runs each file in its own process).
process.env[STOP_TIMEOUT_ENV] = '4';
const suite = useQemuNode();

describe('a graceful stop is bounded', () => {
  it('a guest that ignores the ACPI button is powered off after the stop timeout', async () => {
    // The script runs before the guest's init starts acpid: it waits for it, then ends it.
    const script = '#!/bin/sh\nfor i in $(seq 1 60); do killall acpid 2>/dev/null && break; sleep 1; done\necho ACPI-DAEMON-GONE\n';
    const { location, id } = await createGuest(suite, { userData: script });
    await waitForConsole(suite.occi, location, (c) => /^ACPI-DAEMON-GONE$/m.test(c));
    const started = Date.now();
    expect((await computeAction(suite.occi, location, 'stop', { method: 'acpioff' }))['occi.compute.state']).toBe('inactive');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(4000);
    expect(took).toBeLessThan(20_000);
    expect(await consoleOf(suite.occi, location)).not.toContain('power button');
    expect((await suite.hv.domainInfo(id)).state).toBe('shutoff');
  }, GUEST_TEST_TIMEOUT_MS);
});
