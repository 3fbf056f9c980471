/** Persistent node identity: an Ed25519 key pair kept in the node's data directory. */
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import DHT, { type KeyPair } from 'hyperdht';

export const IDENTITY_FILE = 'mesh-identity.json';

/** Load the key pair from `<dataDir>/mesh-identity.json`, creating it (mode 0600) on first use. */
export function loadOrCreateIdentity(dataDir: string): KeyPair {
  const file = join(dataDir, IDENTITY_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    const parsed = JSON.parse(text) as { publicKey?: unknown; secretKey?: unknown };
    if (typeof parsed.publicKey !== 'string' || typeof parsed.secretKey !== 'string') {
      throw new Error(`${file}: malformed identity`);
    }
    const keyPair = { publicKey: Buffer.from(parsed.publicKey, 'hex'), secretKey: Buffer.from(parsed.secretKey, 'hex') };
    if (keyPair.publicKey.length !== 32 || keyPair.secretKey.length !== 64) throw new Error(`${file}: malformed identity`);
    return keyPair;
  }
  mkdirSync(dataDir, { recursive: true });
  const keyPair = DHT.keyPair();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    JSON.stringify({ publicKey: keyPair.publicKey.toString('hex'), secretKey: keyPair.secretKey.toString('hex') }),
    { mode: 0o600 },
  );
  renameSync(tmp, file);
  return keyPair;
}
