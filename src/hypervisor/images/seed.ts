/**
 * The NoCloud config drive (an iso9660 filesystem labelled `cidata`) a guest is contextualized
 * from, as cloud-init reads it and as the built image's init does: meta-data with the instance id
 * and hostname (and the SSH keys as `public-keys`), user-data as the user gave it, with the keys
 * as `ssh_authorized_keys` when it is cloud-config or absent.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './command.js';

export const SEED_LABEL = 'cidata';

export interface GuestContext {
  /** The OCCI id: a new id is a new instance to cloud-init. */
  instanceId: string;
  hostname: string;
  /** The user data, decoded. */
  userData?: string;
  /** OpenSSH public keys. */
  sshKeys?: string[];
}

function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')}"`;
}

function keyList(field: string, keys: readonly string[]): string {
  return keys.length === 0 ? '' : `${field}:\n${keys.map((k) => `  - ${quoted(k)}\n`).join('')}`;
}

export function nocloudMetaData(ctx: GuestContext): string {
  return `instance-id: ${quoted(ctx.instanceId)}\nlocal-hostname: ${quoted(ctx.hostname)}\n${keyList('public-keys', ctx.sshKeys ?? [])}`;
}

export function nocloudUserData(ctx: GuestContext): string {
  const keys = ctx.sshKeys ?? [];
  const given = ctx.userData;
  if (given === undefined) return `#cloud-config\n${keyList('ssh_authorized_keys', keys)}`;
  const cloudConfig = given.startsWith('#cloud-config');
  // Scripts and other formats keep their bytes: the keys reach them through the meta-data.
  if (!cloudConfig || keys.length === 0 || /^ssh_authorized_keys:/m.test(given)) return given;
  return `${given.endsWith('\n') ? given : `${given}\n`}${keyList('ssh_authorized_keys', keys)}`;
}

/** Writes the config drive of `ctx` as an ISO image at `path`. */
export async function writeSeedIso(path: string, ctx: GuestContext): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'discovery-seed-'));
  try {
    writeFileSync(join(dir, 'meta-data'), nocloudMetaData(ctx));
    writeFileSync(join(dir, 'user-data'), nocloudUserData(ctx));
    await run('genisoimage', ['-quiet', '-o', path, '-V', SEED_LABEL, '-J', '-r', join(dir, 'meta-data'), join(dir, 'user-data')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
