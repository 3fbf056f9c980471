import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'simulate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run simulate', () => {
  it('prints one JSON line per scheduler with the comparable metrics and writes the charts', () => {
    const out = execFileSync(
      'npx',
      ['tsx', 'src/cli/simulate.ts', '--hosts', '24', '--vms', '240', '--duration', '120', '--seed', '3', '--scheduler', 'dvms,entropy,snooze,centralized',
        '--monitoring', '1', '--topology', 'vendor/rtt/countries.csv', '--out', dir],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.scheduler)).toEqual(['dvms', 'entropy', 'snooze', 'centralized']);
    for (const l of lines) {
      for (const k of ['scheduler', 'hosts', 'vms', 'events', 'violation_s', 'violation_per_event_s', 'migration_floor_s', 'solve_ms_p50', 'solve_ms_p99', 'partition_mean', 'migrations', 'unsolvable', 'wall_s']) {
        expect(l).toHaveProperty(k);
      }
      expect(l.hosts).toBe(24);
    }
    expect(readFileSync(join(dir, 'violation-over-time.svg'), 'utf8')).toContain('<polyline');
    for (const s of ['dvms', 'entropy', 'snooze', 'centralized']) expect(existsSync(join(dir, `timeline-${s}.svg`))).toBe(true);
  }, 60_000);

  it('refuses an unknown scheduler with exit code 2', () => {
    expect(() => execFileSync('npx', ['tsx', 'src/cli/simulate.ts', '--scheduler', 'nope'], { stdio: 'pipe' })).toThrowError(expect.objectContaining({ status: 2 }));
  }, 30_000);
});
