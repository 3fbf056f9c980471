/**
 * The hypervisor layer's one error class. Every driver throws it; the HTTP edge
 * maps `code` to a status through {@link HYPERVISOR_ERROR_STATUS}.
 */

export type HypervisorErrorCode =
  | 'NO_DOMAIN'
  | 'NO_NETWORK'
  | 'NO_VOLUME'
  | 'NO_DEVICE'
  | 'INVALID_STATE'
  | 'INSUFFICIENT_CAPACITY'
  | 'INSUFFICIENT_STORAGE'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARG'
  | 'UNREACHABLE'
  | 'OPERATION_UNSUPPORTED'
  | 'CLOSED'
  | 'INTERNAL';

/** HTTP status for each code, used once at the edge. */
export const HYPERVISOR_ERROR_STATUS: Readonly<Record<HypervisorErrorCode, number>> = Object.freeze({
  NO_DOMAIN: 404,
  NO_NETWORK: 404,
  NO_VOLUME: 404,
  NO_DEVICE: 404,
  INVALID_STATE: 409,
  INSUFFICIENT_CAPACITY: 409,
  INSUFFICIENT_STORAGE: 507,
  ALREADY_EXISTS: 409,
  INVALID_ARG: 400,
  UNREACHABLE: 503,
  OPERATION_UNSUPPORTED: 501,
  CLOSED: 503,
  INTERNAL: 500,
});

/** What a libvirt error carried (virError), kept verbatim. */
export interface LibvirtErrorDetail {
  /** virErrorNumber, e.g. 42 = VIR_ERR_NO_DOMAIN. */
  number: number;
  /** virErrorDomain: which libvirt subsystem raised it. */
  domain: number;
  message: string;
}

export interface HypervisorErrorOptions {
  cause?: unknown;
  libvirt?: LibvirtErrorDetail;
}

export class HypervisorError extends Error {
  override readonly name = 'HypervisorError';
  readonly code: HypervisorErrorCode;
  readonly libvirt: LibvirtErrorDetail | undefined;

  constructor(code: HypervisorErrorCode, message: string, opts: HypervisorErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.libvirt = opts.libvirt;
  }

  get status(): number {
    return HYPERVISOR_ERROR_STATUS[this.code];
  }

  /** libvirt's error number, when the error came from libvirt. */
  get libvirtNumber(): number | undefined {
    return this.libvirt?.number;
  }

  static NO_DOMAIN(id: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('NO_DOMAIN', `no domain ${id}`, opts);
  }

  static NO_NETWORK(name: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('NO_NETWORK', `no network ${name}`, opts);
  }

  static NO_VOLUME(name: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('NO_VOLUME', `no volume ${name}`, opts);
  }

  static NO_DEVICE(what: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('NO_DEVICE', `no ${what}`, opts);
  }

  static INVALID_STATE(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('INVALID_STATE', message, opts);
  }

  static INSUFFICIENT_CAPACITY(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('INSUFFICIENT_CAPACITY', message, opts);
  }

  /** A storage pool lacks the space a volume needs; the message names the pool and the space. */
  static INSUFFICIENT_STORAGE(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('INSUFFICIENT_STORAGE', message, opts);
  }

  static ALREADY_EXISTS(what: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('ALREADY_EXISTS', `${what} already exists`, opts);
  }

  static INVALID_ARG(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('INVALID_ARG', message, opts);
  }

  static UNREACHABLE(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('UNREACHABLE', message, opts);
  }

  static OPERATION_UNSUPPORTED(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('OPERATION_UNSUPPORTED', message, opts);
  }

  static CLOSED(what = 'hypervisor'): HypervisorError {
    return new HypervisorError('CLOSED', `${what} is closed`);
  }

  static INTERNAL(message: string, opts?: HypervisorErrorOptions): HypervisorError {
    return new HypervisorError('INTERNAL', message, opts);
  }
}
