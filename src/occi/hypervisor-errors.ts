import { HypervisorError, type HypervisorErrorCode } from '../hypervisor/errors.js';
import { OcciError, type OcciErrorCode } from './errors.js';

/**
 * OCCI code for each hypervisor code. A missing domain, network, volume or device is not a 404:
 * the URL exists, it is the infrastructure behind it that is out of step with the entity (GET
 * shows it, state `error` with a message, and DELETE clears it) — a 409.
 */
const OCCI_CODE: Readonly<Record<Exclude<HypervisorErrorCode, 'INTERNAL'>, OcciErrorCode>> = {
  NO_DOMAIN: 'STATE_CONFLICT',
  NO_NETWORK: 'STATE_CONFLICT',
  NO_VOLUME: 'STATE_CONFLICT',
  NO_DEVICE: 'STATE_CONFLICT',
  INVALID_STATE: 'STATE_CONFLICT',
  ALREADY_EXISTS: 'CONFLICT',
  INSUFFICIENT_CAPACITY: 'CONFLICT',
  INSUFFICIENT_STORAGE: 'INSUFFICIENT_STORAGE',
  INVALID_ARG: 'BAD_REQUEST',
  UNREACHABLE: 'UNAVAILABLE',
  CLOSED: 'UNAVAILABLE',
  OPERATION_UNSUPPORTED: 'NOT_IMPLEMENTED',
};

const MISSING: ReadonlySet<HypervisorErrorCode> = new Set(['NO_DOMAIN', 'NO_NETWORK', 'NO_VOLUME', 'NO_DEVICE']);

/**
 * A hypervisor failure while acting on `location`, as the OCCI error the client gets. INTERNAL
 * failures (and anything that is not a HypervisorError) are returned as they are: the HTTP edge
 * logs them and answers 500.
 */
export function toOcciError(err: unknown, location: string): unknown {
  if (!(err instanceof HypervisorError) || err.code === 'INTERNAL') return err;
  const message = MISSING.has(err.code)
    ? `${location}: hypervisor: ${err.message} (removed behind the gateway; GET on an entity shows its observed state, DELETE removes it)`
    : `${location}: hypervisor: ${err.message}`;
  return new OcciError(OCCI_CODE[err.code], message, {}, { cause: err });
}

/** Whether the error says the hypervisor object is already gone (deleting it again is then done). */
export function isMissing(err: unknown): boolean {
  return err instanceof HypervisorError && MISSING.has(err.code);
}

/** Whether the hypervisor cannot be reached now. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof HypervisorError && (err.code === 'UNREACHABLE' || err.code === 'CLOSED');
}
