import { describe, expect, it } from 'vitest';
import { cluster, KEY } from './fixtures/overlay-cluster.js';
import { LAN_OVERLAY, type OverlayConfig } from '../../src/mesh/overlay/config.js';

describe('overlay push-pull sync', () => {
  it('brings two groups that missed each other to full membership well within one sync interval once one link joins them', () => {
    const config: OverlayConfig = { ...LAN_OVERLAY, maxConnections: 10, viewNearest: 3, viewRandom: 2, maxViewIn: 4 };
    const half = 10;
    // Two groups of ten, each joined through its own first node: neither knows of the other.
    const { clock, nodes } = cluster(2 * half, config, 0, (i) => (i < half ? 0 : half));
    clock.run(60_000);
    for (const node of nodes) expect(node.members()).toHaveLength(half - 1);

    // One link between the groups: its two ends sync and learn the other group; the rest learn it
    // only from syncs (state from a sync is not gossiped on).
    nodes[half]!.views.connect(KEY(1));
    const joinedAt = clock.now();
    let fullAt = Number.POSITIVE_INFINITY;
    for (let t = 500; t <= config.syncIntervalMs && fullAt === Number.POSITIVE_INFINITY; t += 500) {
      clock.run(joinedAt + t);
      if (nodes.every((n) => n.members().length === 2 * half - 1)) fullAt = t;
    }
    expect(fullAt).toBeLessThanOrEqual(config.syncIntervalMs / 2);
  });
});
