/**
 * The contextualization mixins OCCI clients send under OpenStack names (rOCCI-cli's `-T
 * public_key=…` and `-T user_data=…`, which EGI users' scripts pass), taken as the GFD.224
 * `ssh_key` and `user_data` mixins and their attributes, as other OCCI servers take them.
 */
import { SSH_KEY, USER_DATA } from './infrastructure-model.js';
import type { EntityInput } from './request.js';

interface ContextAlias {
  /** The GFD.224 mixin it stands for. */
  mixin: string;
  /** Its attributes by their OpenStack names; `null`: an attribute without a GFD.224 counterpart, dropped. */
  attributes: Readonly<Record<string, string | null>>;
}

export const CONTEXT_ALIASES: Readonly<Record<string, ContextAlias>> = {
  'http://schemas.openstack.org/instance/credentials#public_key': {
    mixin: SSH_KEY,
    attributes: { 'org.openstack.credentials.publickey.data': 'occi.credentials.ssh.publickey', 'org.openstack.credentials.publickey.name': null },
  },
  'http://schemas.openstack.org/compute/instance#user_data': {
    mixin: USER_DATA,
    attributes: { 'org.openstack.compute.user_data': 'occi.compute.userdata' },
  },
};

/** The input with aliased mixins and their attributes under their GFD.224 names; an input without any is returned as it is. */
export function withContextAliases(input: EntityInput): EntityInput {
  const aliases = input.mixins.map((m) => CONTEXT_ALIASES[m]).filter((a): a is ContextAlias => a !== undefined);
  if (aliases.length === 0) return input;
  const mixins = [...new Set(input.mixins.map((m) => CONTEXT_ALIASES[m]?.mixin ?? m))];
  const renamed = Object.assign({}, ...aliases.map((a) => a.attributes)) as Record<string, string | null>;
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input.attributes)) {
    const to = name in renamed ? renamed[name] : name;
    if (to !== null && to !== undefined) attributes[to] = value;
  }
  return { ...input, mixins, attributes };
}
