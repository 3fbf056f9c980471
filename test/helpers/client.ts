import supertest from 'supertest';
import { expectValidOcciJson } from './occi-json.js';
import { OCCI_JSON } from './node.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/**
 * A supertest client that speaks OCCI JSON and checks every JSON document the server emits
 * against the GFD.226 schema.
 */
export function occiClient(url: string) {
  const agent = supertest(url);
  const call = async (method: Method, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    let req = agent[method](path).set('Accept', headers['Accept'] ?? OCCI_JSON);
    for (const [k, v] of Object.entries(headers)) if (k !== 'Accept') req = req.set(k, v);
    if (body !== undefined) req = req.set('Content-Type', headers['Content-Type'] ?? OCCI_JSON).send(typeof body === 'string' ? body : JSON.stringify(body));
    const res = await req;
    if (/json/.test(res.headers['content-type'] ?? '') && res.text && path !== '/openapi.json') expectValidOcciJson(JSON.parse(res.text));
    return res;
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call('get', path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call('post', path, body, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) => call('put', path, body, headers),
    delete: (path: string, body?: unknown, headers?: Record<string, string>) => call('delete', path, body, headers),
  };
}

export type OcciClient = ReturnType<typeof occiClient>;
