/**
 * The state diagrams of GFD.224: for each action, the states it may start from and the state it
 * leads to. An action outside its diagram is a state conflict (409) and changes nothing.
 */
export interface Transition {
  readonly stateAttribute: string;
  readonly from: readonly string[];
  readonly to: string;
}

const A = 'http://schemas.ogf.org/occi/infrastructure/';

export const transitions: Readonly<Record<string, Transition>> = {
  [`${A}compute/action#start`]: { stateAttribute: 'occi.compute.state', from: ['inactive', 'suspended', 'error'], to: 'active' },
  [`${A}compute/action#stop`]: { stateAttribute: 'occi.compute.state', from: ['active', 'suspended', 'error'], to: 'inactive' },
  [`${A}compute/action#restart`]: { stateAttribute: 'occi.compute.state', from: ['active'], to: 'active' },
  [`${A}compute/action#suspend`]: { stateAttribute: 'occi.compute.state', from: ['active'], to: 'suspended' },
  [`${A}compute/action#save`]: { stateAttribute: 'occi.compute.state', from: ['active', 'inactive'], to: '=' },
  [`${A}network/action#up`]: { stateAttribute: 'occi.network.state', from: ['inactive', 'error'], to: 'active' },
  [`${A}network/action#down`]: { stateAttribute: 'occi.network.state', from: ['active'], to: 'inactive' },
  [`${A}storage/action#online`]: { stateAttribute: 'occi.storage.state', from: ['offline', 'error'], to: 'online' },
  [`${A}storage/action#offline`]: { stateAttribute: 'occi.storage.state', from: ['online'], to: 'offline' },
  [`${A}storage/action#backup`]: { stateAttribute: 'occi.storage.state', from: ['online'], to: '=' },
  [`${A}storage/action#snapshot`]: { stateAttribute: 'occi.storage.state', from: ['online'], to: '=' },
  [`${A}storage/action#resize`]: { stateAttribute: 'occi.storage.state', from: ['online', 'offline'], to: '=' },
  [`${A}networkinterface/action#up`]: { stateAttribute: 'occi.networkinterface.state', from: ['inactive', 'error'], to: 'active' },
  [`${A}networkinterface/action#down`]: { stateAttribute: 'occi.networkinterface.state', from: ['active'], to: 'inactive' },
  [`${A}storagelink/action#online`]: { stateAttribute: 'occi.storagelink.state', from: ['inactive', 'error'], to: 'active' },
  [`${A}storagelink/action#offline`]: { stateAttribute: 'occi.storagelink.state', from: ['active'], to: 'inactive' },
};

/** The state after the action, or undefined when the action is not allowed in `state`. */
export function nextState(actionId: string, state: string | undefined): string | undefined {
  const t = transitions[actionId];
  if (!t || state === undefined || !t.from.includes(state)) return undefined;
  return t.to === '=' ? state : t.to;
}
