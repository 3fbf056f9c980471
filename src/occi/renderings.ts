import { jsonRendering } from './json/json-rendering.js';
import type { Rendering } from './rendering.js';
import { textOcciRendering, textPlainRendering, uriListRendering } from './text/text-rendering.js';

/** Every rendering the node speaks; the first is the default (no Accept, or any type). */
export const renderings: readonly Rendering[] = [jsonRendering, textPlainRendering, textOcciRendering, uriListRendering];
