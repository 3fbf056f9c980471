/**
 * The keys tokens are signed and verified with (token.ts):
 * - the issuer key of this node, when it issues tokens: `--issuer-key <file>` (a private JWK),
 *   or, for a node outside any mesh, `<dataDir>/issuer-key.jwk`, created on first use;
 * - the trusted public keys: the issuer key's own, plus a JWKS file (`--token-keys <file>`) read
 *   again whenever it changes, so that keys are added and retired without a restart.
 * Rotation: add the new key to every member's JWKS, sign with it, remove the old one once its
 * tokens are of no use (revoking its kid refuses them at once). Key revocations replicate with
 * the token store; a node's issuer kid is bound to the node, so revoking the node revokes it.
 *
 * @example
 *   const keys = new TokenKeys({ dataDir, issuerKeyFile: 'issuer.jwk', trustedKeysFile: 'jwks.json' });
 *   keys.signer?.kid; keys.publicKey(kid); // undefined for a key nobody trusts
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { generateIssuerKey, type IssuerKey, issuerJwk, issuerKeyFromJwk, publicKeyFromJwk } from './token.js';

export const STANDALONE_KEY_FILE = 'issuer-key.jwk';
/** How often, at most, the JWKS file's modification time is looked at. */
const RELOAD_CHECK_MS = 1000;

export interface TokenKeyFiles {
  /** Private JWK this node signs tokens with (it then issues them; its public key is trusted). */
  issuerKeyFile?: string;
  /** JWKS of the issuers' public keys every token is checked against. */
  trustedKeysFile?: string;
}

export interface TokenKeysOptions extends TokenKeyFiles {
  dataDir: string;
  /** Outside any mesh a node issues its own tokens: its key is created in the data directory. */
  standalone: boolean;
}

export class TokenKeys {
  readonly signer: IssuerKey | undefined;
  private trusted = new Map<string, KeyObject>();
  private loadedMtime = -1;
  private checkedAt = 0;

  constructor(private readonly opts: TokenKeysOptions) {
    this.signer = opts.issuerKeyFile ? readIssuerKey(opts.issuerKeyFile) : opts.standalone ? loadOrCreateIssuerKey(opts.dataDir) : undefined;
    this.reload(true);
    if (this.trusted.size === 0) throw new Error('no token key to verify with: give the issuers\' public keys (--token-keys <jwks file>) or this node\'s issuer key (--issuer-key <file>)');
  }

  /** The public key of a trusted kid (undefined: nobody trusts it here). */
  publicKey(kid: string): KeyObject | undefined {
    this.reload(false);
    return this.trusted.get(kid);
  }

  /** The kids trusted now. */
  kids(): string[] {
    this.reload(false);
    return [...this.trusted.keys()];
  }

  private reload(force: boolean): void {
    const file = this.opts.trustedKeysFile;
    const now = Date.now();
    if (!force && (!file || now - this.checkedAt < RELOAD_CHECK_MS)) return;
    this.checkedAt = now;
    const mtime = file && existsSync(file) ? statSync(file).mtimeMs : -1;
    if (!force && mtime === this.loadedMtime) return;
    const trusted = new Map<string, KeyObject>();
    if (this.signer) trusted.set(this.signer.kid, this.signer.publicKey);
    if (file) {
      try {
        for (const k of readJwks(file)) trusted.set(k.kid, k.publicKey);
      } catch (err) {
        // A file half-written by an editor keeps the keys loaded before; the first load must succeed.
        if (force) throw err;
        return;
      }
    }
    this.trusted = trusted;
    this.loadedMtime = mtime;
  }
}

/** The public keys of a JWKS file (`{"keys":[…]}`, an array of JWKs, or one JWK). */
export function readJwks(file: string): Array<{ kid: string; publicKey: KeyObject }> {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { keys?: JsonWebKey[] } | JsonWebKey[] | JsonWebKey;
  const list = Array.isArray(doc) ? doc : Array.isArray((doc as { keys?: unknown }).keys) ? (doc as { keys: JsonWebKey[] }).keys : [doc as JsonWebKey];
  return list.map((jwk) => publicKeyFromJwk(jwk));
}

/** An issuer key file: a private JWK, readable by its owner only (like an ssh key, refused otherwise). */
export function readIssuerKey(file: string): IssuerKey {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`issuer key ${file} is readable by others (mode ${mode.toString(8)}): chmod 600 ${file}`);
  return issuerKeyFromJwk(JSON.parse(readFileSync(file, 'utf8')) as JsonWebKey);
}

/** Writes a new issuer key (mode 0600, atomically); refuses to overwrite one. */
export function writeIssuerKey(file: string, key: IssuerKey = generateIssuerKey()): IssuerKey {
  if (existsSync(file)) throw new Error(`${file} exists: an issuer key is never overwritten`);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(issuerJwk(key))}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return key;
}

/** The issuer key of a node outside any mesh: `<dataDir>/issuer-key.jwk`, created on first use. */
export function loadOrCreateIssuerKey(dataDir: string): IssuerKey {
  const file = join(dataDir, STANDALONE_KEY_FILE);
  if (existsSync(file)) return readIssuerKey(file);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return writeIssuerKey(file);
}
