import supertest from 'supertest';
// Every answer is checked against GFD.226's schema by the supertest hook this module installs.
import './occi-json.js';
// …and every answer against the OpenAPI document (test/helpers/openapi-conformance.ts).
import './openapi-conformance.js';
import { OCCI_JSON } from './node.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/**
 * A supertest client that speaks OCCI JSON; every JSON document the server emits is checked
 * against GFD.226's schema (test/helpers/occi-json.ts).
 */
export function occiClient(url: string) {
  const agent = supertest(url);
  const call = async (method: Method, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    let req = agent[method](path).set('Accept', headers['Accept'] ?? OCCI_JSON);
    for (const [k, v] of Object.entries(headers)) if (k !== 'Accept') req = req.set(k, v);
    if (body !== undefined) req = req.set('Content-Type', headers['Content-Type'] ?? OCCI_JSON).send(typeof body === 'string' ? body : JSON.stringify(body));
    return req;
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call('get', path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call('post', path, body, headers),
    put: (path: string, body?: unknown, headers?: Record<string, string>) => call('put', path, body, headers),
    delete: (path: string, body?: unknown, headers?: Record<string, string>) => call('delete', path, body, headers),
  };
}

export type OcciClient = ReturnType<typeof occiClient>;
