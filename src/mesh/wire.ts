/** JSON values as the mesh's JSON methods carry them, and a coordinate as JSON. */
import type { Coordinate } from './vivaldi/coordinate.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function coordToJson(c: Coordinate): JsonValue {
  return { vec: [...c.vec], error: c.error, adjustment: c.adjustment, height: c.height };
}
