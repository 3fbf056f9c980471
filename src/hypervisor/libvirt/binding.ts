import koffi from 'koffi';
import type { IKoffiLib, KoffiFunction } from 'koffi';
import { HypervisorError, type LibvirtErrorDetail } from '../errors.js';

export const DEFAULT_LIBVIRT_LIBRARY = 'libvirt.so.0';

/** Opaque libvirt handles as koffi hands them out (External values). */
export type ConnPtr = { readonly __brand: 'virConnectPtr' };
export type DomPtr = { readonly __brand: 'virDomainPtr' };
export type NetPtr = { readonly __brand: 'virNetworkPtr' };
export type PoolPtr = { readonly __brand: 'virStoragePoolPtr' };
export type VolPtr = { readonly __brand: 'virStorageVolPtr' };
export type SnapPtr = { readonly __brand: 'virDomainSnapshotPtr' };

koffi.pointer('virConnectPtr', koffi.opaque('virConnect'));
const DomainPtr = koffi.pointer('virDomainPtr', koffi.opaque('virDomain'));
koffi.pointer('virNetworkPtr', koffi.opaque('virNetwork'));
koffi.pointer('virStoragePoolPtr', koffi.opaque('virStoragePool'));
koffi.pointer('virStorageVolPtr', koffi.opaque('virStorageVol'));
koffi.pointer('virDomainSnapshotPtr', koffi.opaque('virDomainSnapshot'));

const VirError = koffi.struct('virError', {
  code: 'int',
  domain: 'int',
  message: 'char *',
  level: 'int',
  conn: 'void *',
  dom: 'void *',
  str1: 'char *',
  str2: 'char *',
  str3: 'char *',
  int1: 'int',
  int2: 'int',
  net: 'void *',
});
const ERROR_DOMAIN_OFFSET = koffi.offsetof(VirError, 'domain');
const ERROR_MESSAGE_OFFSET = koffi.offsetof(VirError, 'message');
koffi.struct('virDomainInfo', {
  state: 'uchar',
  maxMem: 'ulong',
  memory: 'ulong',
  nrVirtCpu: 'ushort',
  cpuTime: 'ulonglong',
});
koffi.struct('virNodeInfo', {
  model: koffi.array('char', 32, 'String'),
  memory: 'ulong',
  cpus: 'uint',
  mhz: 'uint',
  nodes: 'uint',
  sockets: 'uint',
  cores: 'uint',
  threads: 'uint',
});
koffi.struct('virStorageVolInfo', { type: 'int', capacity: 'ulonglong', allocation: 'ulonglong' });
koffi.struct('virDomainJobInfo', {
  type: 'int',
  timeElapsed: 'ulonglong',
  timeRemaining: 'ulonglong',
  dataTotal: 'ulonglong',
  dataProcessed: 'ulonglong',
  dataRemaining: 'ulonglong',
  memTotal: 'ulonglong',
  memProcessed: 'ulonglong',
  memRemaining: 'ulonglong',
  fileTotal: 'ulonglong',
  fileProcessed: 'ulonglong',
  fileRemaining: 'ulonglong',
});
const IpAddress = koffi.struct('virDomainIPAddress', { type: 'int', addr: 'char *', prefix: 'uint' });
const Interface = koffi.struct('virDomainInterface', { name: 'char *', hwaddr: 'char *', naddrs: 'uint', addrs: 'void *' });
const ErrorFunc = koffi.proto('void virErrorFunc(void *userData, virError *error)');

/** Prototypes, in libvirt's own words. `str!` strings are freed by koffi after conversion. */
const PROTOTYPES = {
  virConnectOpen: 'virConnectPtr virConnectOpen(const char *name)',
  virConnectClose: 'int virConnectClose(virConnectPtr conn)',
  virConnectGetType: 'const char *virConnectGetType(virConnectPtr conn)',
  virConnectGetCapabilities: 'str! virConnectGetCapabilities(virConnectPtr conn)',
  virNodeGetInfo: 'int virNodeGetInfo(virConnectPtr conn, _Out_ virNodeInfo *info)',
  virConnectListAllDomains: 'int virConnectListAllDomains(virConnectPtr conn, _Out_ void **domains, uint flags)',
  virConnSetErrorFunc: 'void virConnSetErrorFunc(virConnectPtr conn, void *userData, virErrorFunc *handler)',
  virConnGetLastError: 'virError *virConnGetLastError(virConnectPtr conn)',
  virSetErrorFunc: 'void virSetErrorFunc(void *userData, virErrorFunc *handler)',
  virGetLastError: 'virError *virGetLastError()',
  virFree: 'void free(void *ptr)',

  virDomainDefineXML: 'virDomainPtr virDomainDefineXML(virConnectPtr conn, const char *xml)',
  virDomainCreateXML: 'virDomainPtr virDomainCreateXML(virConnectPtr conn, const char *xml, uint flags)',
  virDomainLookupByUUIDString: 'virDomainPtr virDomainLookupByUUIDString(virConnectPtr conn, const char *uuid)',
  virDomainLookupByName: 'virDomainPtr virDomainLookupByName(virConnectPtr conn, const char *name)',
  virDomainFree: 'int virDomainFree(virDomainPtr dom)',
  virDomainRef: 'int virDomainRef(virDomainPtr dom)',
  virDomainCreate: 'int virDomainCreate(virDomainPtr dom)',
  virDomainShutdownFlags: 'int virDomainShutdownFlags(virDomainPtr dom, uint flags)',
  virDomainDestroy: 'int virDomainDestroy(virDomainPtr dom)',
  virDomainReboot: 'int virDomainReboot(virDomainPtr dom, uint flags)',
  virDomainReset: 'int virDomainReset(virDomainPtr dom, uint flags)',
  virDomainSuspend: 'int virDomainSuspend(virDomainPtr dom)',
  virDomainResume: 'int virDomainResume(virDomainPtr dom)',
  virDomainManagedSave: 'int virDomainManagedSave(virDomainPtr dom, uint flags)',
  virDomainHasManagedSaveImage: 'int virDomainHasManagedSaveImage(virDomainPtr dom, uint flags)',
  virDomainUndefineFlags: 'int virDomainUndefineFlags(virDomainPtr dom, uint flags)',
  virDomainGetXMLDesc: 'str! virDomainGetXMLDesc(virDomainPtr dom, uint flags)',
  virDomainGetInfo: 'int virDomainGetInfo(virDomainPtr dom, _Out_ virDomainInfo *info)',
  virDomainGetUUIDString: 'int virDomainGetUUIDString(virDomainPtr dom, uint8_t *buf)',
  virDomainGetName: 'const char *virDomainGetName(virDomainPtr dom)',
  virDomainIsActive: 'int virDomainIsActive(virDomainPtr dom)',
  virDomainSetVcpusFlags: 'int virDomainSetVcpusFlags(virDomainPtr dom, uint nvcpus, uint flags)',
  virDomainSetMemoryFlags: 'int virDomainSetMemoryFlags(virDomainPtr dom, ulong memoryKiB, uint flags)',
  virDomainAttachDeviceFlags: 'int virDomainAttachDeviceFlags(virDomainPtr dom, const char *xml, uint flags)',
  virDomainDetachDeviceFlags: 'int virDomainDetachDeviceFlags(virDomainPtr dom, const char *xml, uint flags)',
  virDomainSnapshotCreateXML:
    'virDomainSnapshotPtr virDomainSnapshotCreateXML(virDomainPtr dom, const char *xml, uint flags)',
  virDomainSnapshotFree: 'int virDomainSnapshotFree(virDomainSnapshotPtr snap)',
  virDomainSnapshotLookupByName:
    'virDomainSnapshotPtr virDomainSnapshotLookupByName(virDomainPtr dom, const char *name, uint flags)',
  virDomainMigrateToURI3:
    'int virDomainMigrateToURI3(virDomainPtr dom, const char *dconnuri, void *params, uint nparams, uint flags)',
  virDomainMigrateSetMaxDowntime: 'int virDomainMigrateSetMaxDowntime(virDomainPtr dom, ulonglong downtimeMs, uint flags)',
  virDomainGetJobInfo: 'int virDomainGetJobInfo(virDomainPtr dom, _Out_ virDomainJobInfo *info)',
  virDomainGetJobStats:
    'int virDomainGetJobStats(virDomainPtr dom, _Out_ int *type, _Out_ void **params, _Out_ int *nparams, uint flags)',
  virDomainAbortJob: 'int virDomainAbortJob(virDomainPtr dom)',
  virDomainInterfaceAddresses: 'int virDomainInterfaceAddresses(virDomainPtr dom, _Out_ void **ifaces, uint source, uint flags)',
  virDomainInterfaceFree: 'void virDomainInterfaceFree(void *iface)',
  virTypedParamsAddString:
    'int virTypedParamsAddString(_Inout_ void **params, _Inout_ int *nparams, _Inout_ int *maxparams, const char *name, const char *value)',
  virTypedParamsGetULLong: 'int virTypedParamsGetULLong(void *params, int nparams, const char *name, _Out_ ulonglong *value)',
  virTypedParamsFree: 'void virTypedParamsFree(void *params, int nparams)',

  virNetworkDefineXML: 'virNetworkPtr virNetworkDefineXML(virConnectPtr conn, const char *xml)',
  virNetworkLookupByName: 'virNetworkPtr virNetworkLookupByName(virConnectPtr conn, const char *name)',
  virNetworkCreate: 'int virNetworkCreate(virNetworkPtr net)',
  virNetworkDestroy: 'int virNetworkDestroy(virNetworkPtr net)',
  virNetworkUndefine: 'int virNetworkUndefine(virNetworkPtr net)',
  virNetworkIsActive: 'int virNetworkIsActive(virNetworkPtr net)',
  virNetworkGetXMLDesc: 'str! virNetworkGetXMLDesc(virNetworkPtr net, uint flags)',
  virNetworkFree: 'int virNetworkFree(virNetworkPtr net)',

  virStoragePoolLookupByName: 'virStoragePoolPtr virStoragePoolLookupByName(virConnectPtr conn, const char *name)',
  virStoragePoolDefineXML: 'virStoragePoolPtr virStoragePoolDefineXML(virConnectPtr conn, const char *xml, uint flags)',
  virStoragePoolBuild: 'int virStoragePoolBuild(virStoragePoolPtr pool, uint flags)',
  virStoragePoolCreate: 'int virStoragePoolCreate(virStoragePoolPtr pool, uint flags)',
  virStoragePoolSetAutostart: 'int virStoragePoolSetAutostart(virStoragePoolPtr pool, int autostart)',
  virStoragePoolIsActive: 'int virStoragePoolIsActive(virStoragePoolPtr pool)',
  virStoragePoolRefresh: 'int virStoragePoolRefresh(virStoragePoolPtr pool, uint flags)',
  virStoragePoolGetXMLDesc: 'str! virStoragePoolGetXMLDesc(virStoragePoolPtr pool, uint flags)',
  virStoragePoolFree: 'int virStoragePoolFree(virStoragePoolPtr pool)',
  virStorageVolCreateXML: 'virStorageVolPtr virStorageVolCreateXML(virStoragePoolPtr pool, const char *xml, uint flags)',
  virStorageVolCreateXMLFrom:
    'virStorageVolPtr virStorageVolCreateXMLFrom(virStoragePoolPtr pool, const char *xml, virStorageVolPtr from, uint flags)',
  virStorageVolLookupByName: 'virStorageVolPtr virStorageVolLookupByName(virStoragePoolPtr pool, const char *name)',
  virStorageVolDelete: 'int virStorageVolDelete(virStorageVolPtr vol, uint flags)',
  virStorageVolResize: 'int virStorageVolResize(virStorageVolPtr vol, ulonglong capacity, uint flags)',
  virStorageVolGetInfo: 'int virStorageVolGetInfo(virStorageVolPtr vol, _Out_ virStorageVolInfo *info)',
  virStorageVolGetPath: 'str! virStorageVolGetPath(virStorageVolPtr vol)',
  virStorageVolFree: 'int virStorageVolFree(virStorageVolPtr vol)',
} as const;

export type LibvirtFunctionName = keyof typeof PROTOTYPES;

export interface LibvirtBinding {
  readonly path: string;
  /** The raw koffi functions, one per libvirt entry point used. */
  readonly fn: Readonly<Record<LibvirtFunctionName, KoffiFunction>>;
  /** Decodes a `virError *` (null when there is none). */
  decodeError(ptr: unknown): LibvirtErrorDetail | undefined;
  /** The calling thread's last error: right after a synchronous call. */
  threadError(): LibvirtErrorDetail | undefined;
  /** The connection's last error: right after an asynchronous call on it. */
  connectionError(conn: ConnPtr): LibvirtErrorDetail | undefined;
  /** Last error libvirt reported without a connection (a failed open), from any thread. */
  takeUnboundError(): LibvirtErrorDetail | undefined;
  /** Stops libvirt printing a connection's errors on stderr (they are thrown instead). */
  silence(conn: ConnPtr): void;
  /** Decodes the array virConnectListAllDomains allocated, and frees the array itself. */
  takeDomainArray(ptr: unknown, count: number): DomPtr[];
  /** Decodes the interfaces virDomainInterfaceAddresses allocated, and frees them. */
  takeInterfaces(ptr: unknown, count: number): GuestInterface[];
}

/** One guest interface as virDomainInterfaceAddresses reports it. */
export interface GuestInterface {
  name: string;
  mac: string;
  /** `address/prefix`, IPv4 and IPv6. */
  addresses: string[];
}

const bindings = new Map<string, LibvirtBinding>();

/** Loads libvirt once per library path; throws OPERATION_UNSUPPORTED when it is not installed. */
export function loadLibvirt(path: string = DEFAULT_LIBVIRT_LIBRARY): LibvirtBinding {
  const known = bindings.get(path);
  if (known !== undefined) return known;
  let lib: IKoffiLib;
  try {
    lib = koffi.load(path);
  } catch (cause) {
    throw HypervisorError.OPERATION_UNSUPPORTED(`cannot load ${path} (is libvirt0 installed?)`, { cause });
  }
  const libc = koffi.load('libc.so.6');
  const fn = {} as Record<LibvirtFunctionName, KoffiFunction>;
  for (const [name, proto] of Object.entries(PROTOTYPES) as [LibvirtFunctionName, string][]) {
    fn[name] = name === 'virFree' ? libc.func(proto) : lib.func(proto);
  }

  const decodeError = (ptr: unknown): LibvirtErrorDetail | undefined => {
    if (ptr === null || ptr === undefined) return undefined;
    // Field by field: decoding the whole struct converts five strings and costs ~20 µs.
    const code = koffi.decode(ptr, 0, 'int') as number;
    if (code === 0) return undefined;
    const domain = koffi.decode(ptr, ERROR_DOMAIN_OFFSET, 'int') as number;
    const message = koffi.decode(ptr, ERROR_MESSAGE_OFFSET, 'char *') as string | null;
    return { number: code, domain, message: message ?? `libvirt error ${code}` };
  };

  // libvirt prints every error on stderr unless a handler is set; these handlers
  // also run for errors raised on koffi's worker threads (queued to the main thread).
  let unbound: LibvirtErrorDetail | undefined;
  const globalHandler = koffi.register((_user: unknown, err: unknown) => {
    unbound = decodeError(err);
  }, koffi.pointer(ErrorFunc));
  const connHandler = koffi.register(() => {}, koffi.pointer(ErrorFunc));
  fn.virSetErrorFunc(null, globalHandler);

  const binding: LibvirtBinding = {
    path,
    fn,
    decodeError,
    threadError: () => decodeError(fn.virGetLastError()),
    connectionError: (conn) => decodeError(fn.virConnGetLastError(conn)),
    takeUnboundError: () => {
      const e = unbound;
      unbound = undefined;
      return e;
    },
    silence: (conn) => fn.virConnSetErrorFunc(conn, null, connHandler),
    takeDomainArray: (ptr, count) => {
      if (ptr === null || count <= 0) {
        if (ptr !== null) fn.virFree(ptr);
        return [];
      }
      const doms = koffi.decode(ptr, DomainPtr, count) as DomPtr[];
      fn.virFree(ptr);
      return doms;
    },
    takeInterfaces: (ptr, count) => {
      if (ptr === null || count <= 0) return [];
      const ifaces = koffi.decode(ptr, 'void *', count) as unknown[];
      const out = ifaces.map((iface) => {
        const raw = koffi.decode(iface, Interface) as { name: string | null; hwaddr: string | null; naddrs: number; addrs: unknown };
        const addrs = raw.naddrs > 0 ? (koffi.decode(raw.addrs, IpAddress, raw.naddrs) as Array<{ addr: string | null; prefix: number }>) : [];
        fn.virDomainInterfaceFree(iface);
        return { name: raw.name ?? '', mac: raw.hwaddr ?? '', addresses: addrs.flatMap((a) => (a.addr === null ? [] : [`${a.addr}/${a.prefix}`])) };
      });
      fn.virFree(ptr);
      return out;
    },
  };
  bindings.set(path, binding);
  return binding;
}

/** Whether libvirt can be loaded here. */
export function libvirtAvailable(path: string = DEFAULT_LIBVIRT_LIBRARY): boolean {
  try {
    loadLibvirt(path);
    return true;
  } catch {
    return false;
  }
}
