import { HypervisorError, type HypervisorErrorCode, type LibvirtErrorDetail } from '../errors.js';
import { VIR_ERR } from './constants.js';

const CODE_BY_NUMBER = new Map<number, HypervisorErrorCode>([
  [VIR_ERR.NO_DOMAIN, 'NO_DOMAIN'],
  [VIR_ERR.INVALID_DOMAIN, 'NO_DOMAIN'],
  [VIR_ERR.NO_NETWORK, 'NO_NETWORK'],
  [VIR_ERR.INVALID_NETWORK, 'NO_NETWORK'],
  [VIR_ERR.NO_STORAGE_VOL, 'NO_VOLUME'],
  [VIR_ERR.INVALID_STORAGE_VOL, 'NO_VOLUME'],
  [VIR_ERR.NO_STORAGE_POOL, 'NO_VOLUME'],
  [VIR_ERR.INVALID_STORAGE_POOL, 'NO_VOLUME'],
  [VIR_ERR.OPERATION_INVALID, 'INVALID_STATE'],
  [VIR_ERR.RESOURCE_BUSY, 'INVALID_STATE'],
  [VIR_ERR.DOM_EXIST, 'ALREADY_EXISTS'],
  [VIR_ERR.NETWORK_EXIST, 'ALREADY_EXISTS'],
  [VIR_ERR.STORAGE_VOL_EXIST, 'ALREADY_EXISTS'],
  [VIR_ERR.INVALID_ARG, 'INVALID_ARG'],
  [VIR_ERR.XML_ERROR, 'INVALID_ARG'],
  [VIR_ERR.XML_INVALID_SCHEMA, 'INVALID_ARG'],
  [VIR_ERR.INVALID_MAC, 'INVALID_ARG'],
  [VIR_ERR.CONFIG_UNSUPPORTED, 'INVALID_ARG'],
  [VIR_ERR.DEVICE_MISSING, 'INVALID_ARG'],
  [VIR_ERR.NO_CONNECT, 'UNREACHABLE'],
  [VIR_ERR.INVALID_CONN, 'UNREACHABLE'],
  [VIR_ERR.SYSTEM_ERROR, 'UNREACHABLE'],
  [VIR_ERR.RPC, 'UNREACHABLE'],
  [VIR_ERR.UNKNOWN_HOST, 'UNREACHABLE'],
  [VIR_ERR.AUTH_FAILED, 'UNREACHABLE'],
  [VIR_ERR.NO_SERVER, 'UNREACHABLE'],
  [VIR_ERR.OPERATION_TIMEOUT, 'UNREACHABLE'],
  [VIR_ERR.NO_SUPPORT, 'OPERATION_UNSUPPORTED'],
  [VIR_ERR.ARGUMENT_UNSUPPORTED, 'OPERATION_UNSUPPORTED'],
  [VIR_ERR.OPERATION_UNSUPPORTED, 'OPERATION_UNSUPPORTED'],
]);

/**
 * Turns a libvirt error into a HypervisorError, keeping libvirt's number and
 * message. `during` names the call for the message; `fallback` is used for
 * numbers with no specific meaning (a failed open is UNREACHABLE whatever it says).
 */
export function fromLibvirt(
  detail: LibvirtErrorDetail | undefined,
  during: string,
  fallback: HypervisorErrorCode = 'INTERNAL',
): HypervisorError {
  if (detail === undefined) {
    return new HypervisorError(fallback, `${during} failed (libvirt gave no error)`);
  }
  const code = CODE_BY_NUMBER.get(detail.number) ?? fallback;
  return new HypervisorError(code, `${during}: ${detail.message}`, { libvirt: detail });
}
