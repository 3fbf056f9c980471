/**
 * Cluster-secret handshake. The topic is a hash of the secret, so knowing the
 * topic is not proof. On each connection both sides send
 *   proof = HMAC-SHA256(authKey, "discovery-mesh/proof/v1" ‖ handshakeHash ‖ sender ‖ receiver)
 * where handshakeHash is the Noise handshake hash (unique to the session and
 * identical on both ends) and sender/receiver are the Noise static public keys.
 * Binding the session and the direction makes a proof useless on any other
 * connection and impossible to reflect back.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const TOPIC_CONTEXT = 'discovery-mesh/topic/v1';
const AUTH_CONTEXT = 'discovery-mesh/auth/v1';
const PROOF_CONTEXT = 'discovery-mesh/proof/v1';

function sha256(...parts: (string | Buffer)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The 32-byte Hyperswarm topic of a cluster. */
export function topicFor(secret: string | Buffer): Buffer {
  return sha256(TOPIC_CONTEXT, secret);
}

/** The HMAC key derived from the secret (never sent). */
export function authKeyFor(secret: string | Buffer): Buffer {
  return sha256(AUTH_CONTEXT, secret);
}

export function createProof(authKey: Buffer, handshakeHash: Buffer, sender: Buffer, receiver: Buffer): Buffer {
  return createHmac('sha256', authKey).update(PROOF_CONTEXT).update(handshakeHash).update(sender).update(receiver).digest();
}

export function verifyProof(
  authKey: Buffer,
  handshakeHash: Buffer,
  sender: Buffer,
  receiver: Buffer,
  proof: Buffer | null | undefined,
): boolean {
  if (!proof || proof.length !== 32) return false;
  return timingSafeEqual(createProof(authKey, handshakeHash, sender, receiver), proof);
}
