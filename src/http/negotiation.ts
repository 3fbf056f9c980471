import type { Request } from 'express';
import { OcciError } from '../occi/errors.js';
import type { Rendering } from '../occi/rendering.js';

/** Content negotiation over the renderings the node speaks. */
export class Negotiator {
  private readonly byType = new Map<string, Rendering>();
  private readonly types: string[];

  constructor(private readonly renderings: readonly Rendering[]) {
    for (const r of renderings) for (const t of r.mediaTypes) this.byType.set(t, r);
    this.types = [...this.byType.keys()];
  }

  get default(): Rendering {
    return this.renderings[0]!;
  }

  /** The rendering of the response, from Accept (406 when none fits). */
  response(req: Request, wantsEntities: boolean): { rendering: Rendering; mediaType: string } {
    const accept = req.headers.accept;
    if (!accept || accept.trim() === '') return { rendering: this.default, mediaType: this.default.mediaTypes[0]! };
    const candidates = wantsEntities ? this.types.filter((t) => this.byType.get(t)!.rendersEntities) : this.types;
    const best = req.accepts(candidates);
    if (!best) throw new OcciError('NOT_ACCEPTABLE', `cannot answer in ${accept}; available: ${candidates.join(', ')}`);
    return { rendering: this.byType.get(best)!, mediaType: best };
  }

  /**
   * The rendering of the request body, from Content-Type. Real clients send lists such as
   * `text/plain,text/occi`: the first supported type wins. No Content-Type means the default.
   */
  request(req: Request): Rendering {
    const header = req.headers['content-type'];
    if (!header || header.trim() === '') return this.default;
    for (const part of header.split(',')) {
      const type = part.split(';')[0]!.trim().toLowerCase();
      const r = this.byType.get(type);
      if (r) return r;
    }
    throw new OcciError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${header} is not supported; use one of ${this.types.filter((t) => t !== 'text/uri-list').join(', ')}`);
  }
}
