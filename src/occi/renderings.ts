import { jsonRendering } from './json/json-rendering.js';
import type { Rendering } from './rendering.js';

/** Every rendering the node speaks; the first is the default (no Accept, or any type). */
export const renderings: readonly Rendering[] = [jsonRendering];
