import { describe, expect, it } from 'vitest';
import { cycles, importGraph } from './import-graph.js';

/**
 * The layering (README "Layout", docs/architecture.md): entry points and the composition root over
 * `http` (with its edge) over `cloud` over `occi`, `mesh` and `scheduler` (which know nothing of
 * one another) over `hypervisor`; `lib` holds what every layer may use (it imports none of them).
 * A module may import its own folder and the folders below it.
 */
const BELOW: Record<string, readonly string[]> = {
  cli: ['node.ts', 'node-options.ts', 'http', 'cloud', 'occi', 'mesh', 'scheduler', 'hypervisor', 'lib'],
  'node.ts': ['node-options.ts', 'http', 'cloud', 'occi', 'mesh', 'scheduler', 'hypervisor', 'lib'],
  'node-options.ts': ['http', 'cloud', 'occi', 'mesh', 'scheduler', 'hypervisor', 'lib'],
  http: ['cloud', 'occi', 'mesh', 'scheduler', 'hypervisor', 'lib'],
  cloud: ['occi', 'mesh', 'scheduler', 'hypervisor', 'lib'],
  occi: ['hypervisor', 'lib'],
  mesh: ['lib'],
  scheduler: ['hypervisor', 'lib'],
  hypervisor: ['lib'],
  lib: [],
};

const layerOf = (module: string): string => module.split('/')[0]!;

/** The imports that go upwards or sideways along the layering, as `module → target`. */
function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const upward: string[] = [];
  for (const [module, imports] of graph) {
    const from = layerOf(module);
    for (const target of imports) {
      const to = layerOf(target);
      if (to !== from && !BELOW[from]!.includes(to)) upward.push(`${module} → ${target}`);
    }
  }
  return upward;
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('has modules in every layer and nothing outside them', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    expect([...layers].sort()).toEqual(Object.keys(BELOW).sort());
  });

  it('imports only along the layering, never upwards nor sideways', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no import cycle, type-only imports included', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle and an upward import when there is one (the checker can fail)', () => {
    const bad = new Map([
      ['occi/a.ts', ['occi/b.ts', 'cloud/c.ts']],
      ['occi/b.ts', ['occi/a.ts']],
      ['cloud/c.ts', []],
    ]);
    expect(cycles(bad)).toEqual([['occi/a.ts', 'occi/b.ts']]);
    expect(upwardImports(bad)).toEqual(['occi/a.ts → cloud/c.ts']);
    expect(upwardImports(new Map([['mesh/m.ts', ['scheduler/s.ts']], ['scheduler/s.ts', []]]))).toEqual(['mesh/m.ts → scheduler/s.ts']);
  });
});
