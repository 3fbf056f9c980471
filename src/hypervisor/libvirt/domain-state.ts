/** Domain state as libvirt reports it: info of one domain, the listing, libvirt's states mapped, state preconditions. */
import { HypervisorError } from '../errors.js';
import type { DomainInfo, DomainState } from '../hypervisor.js';
import type { DomPtr } from './binding.js';
import type { LibvirtConnection } from './connection.js';
import type { DomainHandles } from './domain-handles.js';
import { VIR_DOMAIN_STATE, VIR_UUID_STRING_BUFLEN } from './constants.js';

interface RawDomainInfo {
  state: number;
  maxMem: number | bigint;
  memory: number | bigint;
  nrVirtCpu: number;
  cpuTime: number | bigint;
}

export function absentDomain(id: string): DomainInfo {
  return { id, name: '', state: 'absent', cores: 0, memoryMiB: 0, cpuTimeNs: 0, memoryUsedMiB: 0 };
}

export function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'paused';
}

function stateOf(raw: number): DomainState {
  switch (raw) {
    case VIR_DOMAIN_STATE.RUNNING:
    case VIR_DOMAIN_STATE.BLOCKED:
    case VIR_DOMAIN_STATE.SHUTDOWN:
      return 'running';
    case VIR_DOMAIN_STATE.PAUSED:
    case VIR_DOMAIN_STATE.PMSUSPENDED:
      return 'paused';
    case VIR_DOMAIN_STATE.CRASHED:
      return 'crashed';
    default:
      return 'shutoff';
  }
}

/** Whether the domain runs (or is paused): one cheap call, where the full info needs several. */
export async function domainIsActive(connection: LibvirtConnection, dom: DomPtr, id: string): Promise<boolean> {
  return (await connection.int('virDomainIsActive', [dom], `state of ${id}`)) === 1;
}

/** The domain's info; its UUID is read from libvirt unless `knownId` is given. */
export async function readDomainInfo(connection: LibvirtConnection, dom: DomPtr, knownId?: string): Promise<DomainInfo> {
  const raw: Partial<RawDomainInfo> = {};
  await connection.int('virDomainGetInfo', [dom, raw], 'domain info');
  let id = knownId;
  if (id === undefined) {
    const buf = Buffer.alloc(VIR_UUID_STRING_BUFLEN);
    await connection.int('virDomainGetUUIDString', [dom, buf], 'domain uuid');
    id = buf.toString('latin1', 0, buf.indexOf(0));
  }
  const name = (connection.binding.fn.virDomainGetName(dom) as string | null) ?? '';
  let state = stateOf(raw.state ?? VIR_DOMAIN_STATE.NOSTATE);
  if (state === 'shutoff') {
    const saved = await connection.int('virDomainHasManagedSaveImage', [dom, 0], 'managed save');
    if (saved === 1) state = 'saved';
  }
  const memoryMiB = Math.floor(Number(raw.memory ?? 0) / 1024);
  return {
    id,
    name,
    state,
    cores: raw.nrVirtCpu ?? 0,
    memoryMiB,
    cpuTimeNs: Number(raw.cpuTime ?? 0),
    memoryUsedMiB: isActive(state) ? memoryMiB : 0,
  };
}

/** Current info of a domain; state `absent` when libvirt does not know it. */
export async function domainInfo(handles: DomainHandles, id: string): Promise<DomainInfo> {
  try {
    return await handles.use(id, (dom) => readDomainInfo(handles.connection, dom, id));
  } catch (err) {
    if (err instanceof HypervisorError && err.code === 'NO_DOMAIN') return absentDomain(id);
    throw err;
  }
}

export async function listDomains(connection: LibvirtConnection): Promise<DomainInfo[]> {
  const out: unknown[] = [null];
  const count = await connection.int('virConnectListAllDomains', [connection.ptr, out, 0], 'list domains');
  const doms = connection.binding.takeDomainArray(out[0], count);
  try {
    const infos: DomainInfo[] = [];
    for (const dom of doms) infos.push(await readDomainInfo(connection, dom));
    return infos;
  } finally {
    for (const dom of doms) connection.binding.fn.virDomainFree(dom);
  }
}

/**
 * Fails with INVALID_STATE unless the domain is in one of `from`. Checked here
 * because drivers disagree on the error otherwise (the test driver reports an
 * INTERNAL error where qemu reports OPERATION_INVALID).
 */
export async function requireState(
  connection: LibvirtConnection,
  dom: DomPtr,
  id: string,
  what: string,
  from: DomainState[],
): Promise<void> {
  // virDomainIsActive is enough when `from` holds all active or all inactive states; the full info is read otherwise.
  const active = await domainIsActive(connection, dom, id);
  const candidates = from.filter((s) => isActive(s) === active);
  const decided = candidates.length === 0 || candidates.length === (active ? 2 : 3);
  const state = decided ? candidates[0] : (await readDomainInfo(connection, dom, id)).state;
  if (state === undefined || !from.includes(state)) {
    const now = state ?? (await readDomainInfo(connection, dom, id)).state;
    throw HypervisorError.INVALID_STATE(`cannot ${what} domain ${id}: it is ${now}`);
  }
}
