/**
 * The one error class of the OCCI layer. Its `code` is machine readable; the HTTP layer maps
 * codes to statuses through one table (src/http/error-status.ts), documented in openapi/.
 */
export type OcciErrorCode =
  | 'BAD_REQUEST'
  | 'MALFORMED_BODY'
  | 'UNKNOWN_CATEGORY'
  | 'INVALID_ATTRIBUTE'
  | 'MISSING_ATTRIBUTE'
  | 'IMMUTABLE_ATTRIBUTE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'QUOTA_EXCEEDED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'NOT_ACCEPTABLE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'STATE_CONFLICT'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'LIMIT_EXCEEDED'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'RATE_LIMITED'
  | 'INSUFFICIENT_STORAGE'
  | 'UNAVAILABLE'
  | 'GATEWAY_TIMEOUT'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL';

export class OcciError extends Error {
  override readonly name = 'OcciError';
  constructor(
    readonly code: OcciErrorCode,
    message: string,
    readonly details: { allow?: string[]; attribute?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static badRequest(message: string): OcciError {
    return new OcciError('BAD_REQUEST', message);
  }
  static malformed(message: string, cause?: unknown): OcciError {
    return new OcciError('MALFORMED_BODY', message, {}, { cause });
  }
  static unknownCategory(id: string): OcciError {
    return new OcciError('UNKNOWN_CATEGORY', `unknown category ${id}`);
  }
  static invalidAttribute(attribute: string, message: string): OcciError {
    return new OcciError('INVALID_ATTRIBUTE', `attribute ${attribute}: ${message}`, { attribute });
  }
  static missingAttribute(attribute: string): OcciError {
    return new OcciError('MISSING_ATTRIBUTE', `required attribute ${attribute} is missing`, { attribute });
  }
  static immutableAttribute(attribute: string): OcciError {
    return new OcciError('IMMUTABLE_ATTRIBUTE', `attribute ${attribute} is immutable`, { attribute });
  }
  static notFound(path: string): OcciError {
    return new OcciError('NOT_FOUND', `nothing at ${path}`);
  }
  static methodNotAllowed(method: string, path: string, allow: string[]): OcciError {
    return new OcciError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`, { allow });
  }
  static stateConflict(message: string): OcciError {
    return new OcciError('STATE_CONFLICT', message);
  }
  static conflict(message: string): OcciError {
    return new OcciError('CONFLICT', message);
  }
  /** No room on the disk a request needs (507): the message names the pool or nodes and the space. */
  static insufficientStorage(message: string, cause?: unknown): OcciError {
    return new OcciError('INSUFFICIENT_STORAGE', message, {}, { cause });
  }
  static unavailable(message: string, cause?: unknown): OcciError {
    return new OcciError('UNAVAILABLE', message, {}, { cause });
  }
}
