/** The one error class of the mesh layer. */

export type MeshErrorCode =
  /** No answer within the deadline. */
  | 'TIMEOUT'
  /** No usable connection to the peer (it may be a member that just left). */
  | 'UNREACHABLE'
  /** The key is not a current member. */
  | 'NOT_MEMBER'
  /** A message exceeds `maxMessageBytes`. */
  | 'TOO_LARGE'
  /** The remote handler failed; `remoteCode` carries its code. */
  | 'REMOTE_ERROR'
  /** The connection or the mesh closed while the call was in flight. */
  | 'CLOSED'
  /** A peer failed the cluster-secret handshake or is revoked. */
  | 'UNAUTHORIZED'
  /** Malformed message. */
  | 'BAD_MESSAGE'
  /** The remote has no handler for the method. */
  | 'NO_HANDLER';

export class MeshError extends Error {
  override readonly name = 'MeshError';

  constructor(
    readonly code: MeshErrorCode,
    message: string,
    options: { cause?: unknown; remoteCode?: string; peer?: string } = {},
  ) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.remoteCode = options.remoteCode;
    this.peer = options.peer;
  }

  /** For REMOTE_ERROR: the code the remote handler's error carried, if any. */
  readonly remoteCode: string | undefined;
  /** Hex key of the peer concerned, when there is one. */
  readonly peer: string | undefined;

  static TIMEOUT(ms: number, peer?: string, cause?: unknown): MeshError {
    return new MeshError('TIMEOUT', `no answer within ${ms} ms`, { peer, cause });
  }
  static UNREACHABLE(peer: string, cause?: unknown, why?: string): MeshError {
    return new MeshError('UNREACHABLE', `peer ${short(peer)} unreachable${why ? `: ${why}` : ''}`, { peer, cause });
  }
  static NOT_MEMBER(peer: string): MeshError {
    return new MeshError('NOT_MEMBER', `${short(peer)} is not a member`, { peer });
  }
  static TOO_LARGE(size: number, max: number, peer?: string): MeshError {
    return new MeshError('TOO_LARGE', `message of ${size} bytes exceeds ${max}`, { peer });
  }
  static REMOTE_ERROR(message: string, remoteCode?: string, peer?: string): MeshError {
    return new MeshError('REMOTE_ERROR', message, { remoteCode, peer });
  }
  static CLOSED(reason = 'closed', cause?: unknown, peer?: string): MeshError {
    return new MeshError('CLOSED', reason, { cause, peer });
  }
  static UNAUTHORIZED(reason: string, peer?: string): MeshError {
    return new MeshError('UNAUTHORIZED', reason, { peer });
  }
  static BAD_MESSAGE(reason: string, cause?: unknown): MeshError {
    return new MeshError('BAD_MESSAGE', reason, { cause });
  }
  static NO_HANDLER(method: string, peer?: string): MeshError {
    return new MeshError('NO_HANDLER', `no handler for ${method}`, { peer });
  }

  /** Whether a retry of an idempotent call may succeed. */
  get retryable(): boolean {
    return this.code === 'CLOSED' || this.code === 'UNREACHABLE';
  }
}

export function short(key: string): string {
  return key.slice(0, 8);
}
