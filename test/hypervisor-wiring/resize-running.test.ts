import { describe, expect, it } from 'vitest';
import { VIR_DOMAIN_XML_INACTIVE } from '../../src/hypervisor/libvirt/constants.js';
import { COMPUTE, LARGE, SMALL } from '../helpers/node.js';
import { raw, xmlResources } from '../hypervisor/libvirt-helpers.js';
import { act, attributesOf, create, useLibvirtNode } from './wiring-helpers.js';

const suite = useLibvirtNode();
const MEDIUM = 'http://schemas.discovery-cloud.org/occi/resource_tpl#medium';

describe('resizing a running compute: within its maximums live, else 409 with what to do', () => {
  it('more cores, more memory or a larger resource_tpl on a running compute are 409, and nothing changes', async () => {
    const { location, id } = await create(suite.occi, '/compute/', { kind: COMPUTE, mixins: [SMALL], attributes: {} });
    const cores = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.cores': 4 } });
    expect(cores.status).toBe(409);
    expect(cores.body.error).toEqual({
      status: 409,
      code: 'STATE_CONFLICT',
      message: `${location}: the running compute cannot get 4 cores while it runs: it runs with at most 1 core; stop the compute first, or resize within 1 core`,
    });
    const memory = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.memory': 4 } });
    expect(memory.status).toBe(409);
    expect(memory.body.error.message).toBe(`${location}: the running compute cannot get 4 GiB of memory while it runs: it runs with at most 1 GiB; stop the compute first, or resize within 1 GiB`);
    const template = await suite.occi.put(location, { kind: COMPUTE, mixins: [LARGE], attributes: {} });
    expect(template.status).toBe(409);
    expect(template.body.error.message).toContain('stop the compute first, or resize within 1 core');
    // In text too, with no hypervisor wording: the client's request was well formed.
    const text = await suite.occi.post(location, 'X-OCCI-Attribute: occi.compute.cores=2\n', { 'Content-Type': 'text/plain', Accept: 'text/plain' });
    expect(text.status).toBe(409);
    expect(text.text).not.toContain('exceeds maximum');
    expect(await attributesOf(suite.occi, location)).toMatchObject({ 'occi.compute.cores': 1, 'occi.compute.memory': 1, 'occi.compute.state': 'active' });
    expect(xmlResources(raw(suite.hv).xml(id))).toMatchObject({ vcpus: 1, currentVcpus: 1, memoryMiB: 1024 });
  });

  it('within its maximums a running compute is resized live; stopped, it takes any size', async () => {
    const { location, id } = await create(suite.occi, '/compute/', { kind: COMPUTE, mixins: [MEDIUM], attributes: {} });
    const smaller = await suite.occi.post(location, { kind: COMPUTE, attributes: { 'occi.compute.cores': 1, 'occi.compute.memory': 2 } });
    expect(smaller.status, smaller.text).toBe(200);
    expect(xmlResources(raw(suite.hv).xml(id))).toMatchObject({ currentVcpus: 1, currentMemoryMiB: 2048 });
    await act(suite.occi, location, 'stop', { method: 'poweroff' });
    const larger = await suite.occi.put(location, { kind: COMPUTE, mixins: [LARGE], attributes: {} });
    expect(larger.status, larger.text).toBe(200);
    expect(xmlResources(raw(suite.hv).xml(id, VIR_DOMAIN_XML_INACTIVE))).toMatchObject({ currentVcpus: 4, currentMemoryMiB: 8192 });
    await act(suite.occi, location, 'start');
    expect(await attributesOf(suite.occi, location)).toMatchObject({ 'occi.compute.cores': 4, 'occi.compute.memory': 8, 'occi.compute.state': 'active' });
  });
});
