import { describe, expect, it } from 'vitest';
import { MeshSchedulerTransport } from '../../src/cloud/scheduler-link.js';
import { monotonicMs } from '../../src/lib/monotonic.js';
import type { Mesh } from '../../src/mesh/mesh.js';
import type { DvmsMessage } from '../../src/scheduler/protocol/messages.js';

/** A mesh of one member that delivers nothing by itself: the test hands messages to `receive`. */
const mesh = { key: 'self', member: (k: string) => (k === 'peer' ? { key: k } : undefined), handle: () => mesh, unhandle: () => mesh } as unknown as Mesh;

function join(sentAt: number): DvmsMessage {
  return { type: 'join', sentAt, info: { pid: 'p#1' } } as unknown as DvmsMessage;
}

describe('DVMS messages between machines whose wall clocks disagree', () => {
  it('judge a join by its delay beyond the fastest message from its sender, not by comparing the two wall clocks', () => {
    const now = 1_800_000_000_000;
    const transport = new MeshSchedulerTransport(mesh, { now: () => now });
    const got: DvmsMessage[] = [];
    transport.onMessage((_from, m) => got.push(m));
    // The sender's wall clock runs 30 s ahead, then 30 s behind: its joins are as fresh as they came.
    transport.receive('peer', { m: join(now + 30_000), t: monotonicMs() });
    transport.receive('peer', { m: join(now - 30_000), t: monotonicMs() });
    for (const m of got) expect(Math.abs(now - (m as { sentAt: number }).sentAt)).toBeLessThan(50);
    // A join that spent 3 s more on the way than the others reads 3 s old, whatever it says.
    transport.receive('peer', { m: join(now + 30_000), t: monotonicMs() - 3_000 });
    expect(now - (got[2] as { sentAt: number }).sentAt).toBeGreaterThanOrEqual(2_950);
    transport.close();
  });
});
