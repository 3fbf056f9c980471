import type { OcciErrorCode } from '../occi/errors.js';

/** The one table from error codes to HTTP statuses (documented in openapi/occi.yaml `x-error-codes`). */
export const ERROR_STATUS: Readonly<Record<OcciErrorCode, number>> = {
  BAD_REQUEST: 400,
  MALFORMED_BODY: 400,
  UNKNOWN_CATEGORY: 400,
  INVALID_ATTRIBUTE: 400,
  MISSING_ATTRIBUTE: 400,
  IMMUTABLE_ATTRIBUTE: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  STATE_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INTERNAL: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
};
