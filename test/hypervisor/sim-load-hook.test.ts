import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HypervisorError } from '../../src/hypervisor/errors.js';
import type { DomainSpec } from '../../src/hypervisor/hypervisor.js';
import { parseSimUri, openHypervisor } from '../../src/hypervisor/select-driver.js';
import { SIM_LOAD_FILE_ENV, SimulatedHypervisor, parseLoadFile } from '../../src/hypervisor/simulated/index.js';

function spec(n: number, over: Partial<DomainSpec> = {}): DomainSpec {
  return { id: `00000000-0000-4000-9000-${String(n).padStart(12, '0')}`, name: `load-${n}`, cores: 2, memoryMiB: 1024, nics: [], disks: [], ...over };
}

describe('simulated driver: load file hook', () => {
  let dir: string;
  let file: string;
  let seq = 0;
  /** Atomic write (temporary file renamed over the old one), as the README says. */
  const write = (content: unknown): void => {
    const tmp = `${file}.${seq++}.tmp`;
    writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content));
    renameSync(tmp, file);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-load-'));
    file = join(dir, 'loads.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the file to the domains the host has, ignores unknown ids, and accounts CPU time from it', async () => {
    let now = 1_000;
    const hv = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096, loadFile: file, now: () => now });
    const a = spec(1);
    const b = spec(2);
    await hv.defineDomain(a);
    await hv.defineDomain(b);
    await hv.startDomain(a.id);
    await hv.startDomain(b.id);
    write({ [a.id]: { cpu: 150, mem: 300 }, '11111111-0000-4000-8000-000000000000': { cpu: 50 } });
    await hv.listDomains(); // applies the file
    expect(hv.host.load()).toEqual({ cpuPercentOfCore: 150, memoryMiB: 300 });
    now += 2_000;
    const info = await hv.domainInfo(a.id);
    expect(info.cpuTimeNs).toBe(2_000 * 1e6 * 1.5);
    expect(info.memoryUsedMiB).toBe(300);
    expect((await hv.domainInfo(b.id)).cpuTimeNs).toBe(0);
    await hv.close();
  });

  it('re-reads only when the file changes; clamps values; keeps the last loads on a malformed file', async () => {
    const hv = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096, loadFile: file });
    const a = spec(3);
    await hv.defineDomain(a);
    await hv.startDomain(a.id);
    await hv.listDomains(); // file missing: nothing happens
    expect(hv.loadFile?.reads).toBe(0);
    write({ [a.id]: { cpu: 120 } });
    await hv.listDomains();
    await hv.domainInfo(a.id);
    await hv.poll();
    expect(hv.loadFile?.reads).toBe(1);
    expect(hv.host.load().cpuPercentOfCore).toBe(120);

    // A direct setLoad sticks until the file changes again.
    hv.setLoad(a.id, 10, 0);
    await hv.listDomains();
    expect(hv.host.load().cpuPercentOfCore).toBe(10);

    write({ [a.id]: { cpu: 999, mem: 5000 } });
    await hv.usage();
    expect(hv.loadFile?.reads).toBe(2);
    expect(hv.host.load()).toEqual({ cpuPercentOfCore: 200, memoryMiB: 1024 });

    write('{"not json');
    await hv.listDomains();
    expect(hv.loadFile?.reads).toBe(2);
    expect(hv.host.load().cpuPercentOfCore).toBe(200);

    write({ [a.id]: { cpu: 0 } });
    await hv.listDomains();
    expect(hv.loadFile?.reads).toBe(3);
    expect(hv.host.load().cpuPercentOfCore).toBe(0);
    await hv.close();
  });

  it('gives a domain that migrates in later its load from the file', async () => {
    const source = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096, loadFile: null });
    const target = new SimulatedHypervisor({ cores: 4, memoryMiB: 4096, loadFile: file });
    const a = spec(4);
    write({ [a.id]: { cpu: 80, mem: 100 } });
    await target.listDomains();
    await source.defineDomain(a);
    await source.startDomain(a.id);
    expect(source.host.load().cpuPercentOfCore).toBe(0);
    await source.migrate(a.id, target, { mode: 'copy' }); // copy: the load does not travel
    await target.listDomains();
    expect(target.host.load()).toEqual({ cpuPercentOfCore: 80, memoryMiB: 100 });
    await source.close();
    await target.close();
  });

  it('takes the file from DISCOVERY_SIM_LOAD_FILE unless the option says otherwise', async () => {
    const before = process.env[SIM_LOAD_FILE_ENV];
    process.env[SIM_LOAD_FILE_ENV] = file;
    try {
      expect(new SimulatedHypervisor().loadFile?.path).toBe(file);
      expect(new SimulatedHypervisor({ loadFile: null }).loadFile).toBeNull();
      const opened = await openHypervisor('sim');
      expect(opened.description).toContain(file);
      await opened.hypervisor.close();
    } finally {
      if (before === undefined) delete process.env[SIM_LOAD_FILE_ENV];
      else process.env[SIM_LOAD_FILE_ENV] = before;
    }
  });

  it('parses the documented format and refuses others', () => {
    expect(parseLoadFile('{"x": {"cpu": 50, "mem": 10}, "y": {"cpu": 5}}')).toEqual(
      new Map([
        ['x', { cpu: 50, mem: 10 }],
        ['y', { cpu: 5, mem: 0 }],
      ]),
    );
    expect(() => parseLoadFile('[]')).toThrow(TypeError);
    expect(() => parseLoadFile('{"x": 3}')).toThrow(TypeError);
    expect(() => parseLoadFile('{"x": {"cpu": "lots"}}')).toThrow(TypeError);
  });
});

describe('simulated driver: host size in the URI', () => {
  it('accepts sim and sim:///?cores=…&memoryMiB=…', async () => {
    expect(parseSimUri('sim')).toEqual({ cpuOvercommit: 4 });
    expect(parseSimUri('sim:///?cores=4&memoryMiB=4096')).toEqual({ cores: 4, memoryMiB: 4096, cpuOvercommit: 4 });
    expect(parseSimUri('sim:?cpuOvercommit=1.5&loadFile=/tmp/x.json')).toEqual({ cpuOvercommit: 1.5, loadFile: '/tmp/x.json' });
    expect(parseSimUri('test:///default')).toBeNull();
    expect(parseSimUri('simple:///x')).toBeNull();
    for (const bad of ['sim:///?cores=0', 'sim:///?cores=2.5', 'sim:///?memoryMiB=lots', 'sim:///?disks=3', 'sim://host/?cores=2', 'sim:/path']) {
      expect(() => parseSimUri(bad), bad).toThrow(HypervisorError);
    }
    const opened = await openHypervisor('sim:///?cores=4&memoryMiB=4096');
    expect(opened.kind).toBe('simulated');
    expect(await opened.hypervisor.capacity()).toEqual({ cores: 4, memoryMiB: 4096 });
    expect(opened.description).toContain('4 cores, 4096 MiB');
    await opened.hypervisor.close();
    const plain = await openHypervisor('sim');
    expect(await plain.hypervisor.capacity()).toEqual({ cores: 16, memoryMiB: 32_768 });
    await plain.hypervisor.close();
  });
});
