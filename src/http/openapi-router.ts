import { OpenAPIBackend, type Operation } from 'openapi-backend';
import { fileURLToPath } from 'node:url';

export const OPENAPI_FILE = fileURLToPath(new URL('../../openapi/occi.yaml', import.meta.url));

/**
 * openapi-backend over the project's OpenAPI document. Collections end with `/` in OCCI, so
 * trailing slashes are significant. openapi-backend rebuilds its operation list and path
 * regexes on every request; the document never changes after start, so the table is compiled
 * once here (measured: ~300 µs → ~45 µs per routed request).
 */
export async function createOpenApiBackend(): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({ definition: OPENAPI_FILE, ignoreTrailingSlashes: false, quick: false });
  await api.init();
  const operations = api.router.getOperations();
  const compiled = operations
    .map((op) => ({
      op,
      pattern: new RegExp(`^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\}/g, '[^/]+')}$`),
      specificity: op.path.replace(/\{[^}]*\}/g, '').length,
    }))
    .sort((a, b) => b.specificity - a.specificity);
  api.router.getOperations = () => operations;
  api.router.matchOperation = ((req: { path: string; method: string }, strict?: boolean) => {
    const method = req.method.toLowerCase();
    let pathMatched = false;
    let best = -1;
    for (const c of compiled) {
      // Only the most specific path that matches counts: PUT /-/ is a 405, not /{collection}/'s PUT.
      if (pathMatched && c.specificity < best) break;
      if (!c.pattern.test(req.path)) continue;
      pathMatched = true;
      best = c.specificity;
      if (c.op.method === method) return c.op;
    }
    if (strict) throw Error(pathMatched ? '405-methodNotAllowed: this method is not registered for the route' : '404-notFound: no route matches request');
    return undefined;
  }) as typeof api.router.matchOperation;
  return api;
}

/** Methods the document allows on a path (for the Allow header of a 405). */
export function allowedMethods(api: OpenAPIBackend, path: string): string[] {
  const matching = api.router.getOperations().filter((op: Operation) => new RegExp(`^${op.path.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path));
  const specificity = (op: Operation) => op.path.replace(/\{[^}]*\}/g, '').length;
  const best = Math.max(...matching.map(specificity));
  return matching.filter((op) => specificity(op) === best).map((op: Operation) => op.method.toUpperCase());
}
