// The node's public API as the console uses it: OCCI JSON for computes, the discovery endpoints for the mesh.
const OCCI_JSON = 'application/occi+json';
export const COMPUTE = 'http://schemas.ogf.org/occi/infrastructure#compute';
export const ACTION_SCHEME = 'http://schemas.ogf.org/occi/infrastructure/compute/action#';
export const LOCALITY = 'http://schemas.discovery-cloud.org/occi/placement#locality';
const RESOURCE_TPL = 'http://schemas.discovery-cloud.org/occi/resource_tpl#';

/** An answer the node refused: its status and the message of its error document. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function createApi(token) {
  const call = async (method, path, { body, accept = OCCI_JSON } = {}) => {
    const headers = { 'X-Auth-Token': token, Accept: accept };
    if (body !== undefined) headers['Content-Type'] = OCCI_JSON;
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = JSON.parse(text).error?.message ?? text;
      } catch {
        // a text/plain error: its text is the message
      }
      throw new ApiError(res.status, message || res.statusText);
    }
    return accept.includes('json') && text ? JSON.parse(text) : text;
  };
  return {
    mesh: () => call('GET', '/.well-known/discovery/mesh', { accept: 'application/json' }),
    computes: async () => (await call('GET', '/compute/')).resources ?? [],
    templates: async () => ((await call('GET', '/-/')).mixins ?? []).filter((m) => m.scheme === RESOURCE_TPL),
    create: (title, template, near) =>
      call('POST', '/compute/', {
        body: {
          kind: COMPUTE,
          mixins: [...(template ? [RESOURCE_TPL + template] : []), ...(near ? [LOCALITY] : [])],
          attributes: { 'occi.core.title': title || 'console', ...(near ? { 'discovery.locality.near': near } : {}) },
        },
      }),
    act: (id, action) => call('POST', `/compute/${id}?action=${action}`, { body: { action: ACTION_SCHEME + action, attributes: {} } }),
    remove: (id) => call('DELETE', `/compute/${id}`),
    consoleLog: (id) => call('GET', `/compute/${id}/console?lines=200`, { accept: 'text/plain' }),
  };
}
