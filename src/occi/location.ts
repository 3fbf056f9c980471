/** Locations as clients send them back: paths, or the absolute URIs the text renderings hand out when they point at this service. */
import { OcciError } from './errors.js';

const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * `http://host:port/compute/1` → `/compute/1` when `host:port` is the authority the request
 * reached (`base`, `http://host:port`); a URI of another authority is a 400. Without a base (no
 * HTTP request behind the parse) any authority is taken off.
 */
export function localPath(uri: string, base: string | undefined): string {
  const origin = ORIGIN.exec(uri)?.[0];
  if (origin === undefined) return uri;
  if (base !== undefined && authority(origin) !== authority(base)) {
    throw OcciError.badRequest(`${JSON.stringify(uri)} does not point at this service (${base}): send a location of this service, as a path (/compute/<id>) or under ${base}`);
  }
  const rest = uri.slice(origin.length);
  return rest === '' ? '/' : rest;
}

/** `host:port` in canonical form (lower case, default ports left out), or the input when it does not parse. */
function authority(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return origin.toLowerCase();
  }
}
