/**
 * Requests that members forwarded to this node are dispatched in-process into its HTTP app (no
 * second listener, nothing re-sent over a socket). What the mesh verified travels as a mark on the
 * request object itself, so no header, token or address that a client can send claims it.
 */
import type { IncomingMessage } from 'node:http';
import type { TrustedDecision } from './auth/authenticate.js';

export interface ForwardedMark {
  /** The name of the member the request came from (the audit log's `forwardedFrom`); none for this node's own admission. */
  from?: string;
  /** The principal the mesh verified for it (signed envelope and token), or why it was refused. */
  decision?: TrustedDecision;
  /** The compute id a partition admitted the request at: created here at that id. */
  admitted?: string;
}

const marks = new WeakMap<IncomingMessage, ForwardedMark>();

export function markForwarded(req: IncomingMessage, mark: ForwardedMark): void {
  marks.set(req, mark);
}

/** The mark of a request a member forwarded; undefined for every request that came in through a socket. */
export function forwardedMark(req: IncomingMessage): ForwardedMark | undefined {
  return marks.get(req);
}
