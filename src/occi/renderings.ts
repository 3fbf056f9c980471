import { jsonRendering } from './json/json-rendering.js';
import type { Rendering } from './rendering.js';

/** Every rendering the node speaks, the default (answered to `Accept: */*`) first. */
export const renderings: readonly Rendering[] = [jsonRendering];
