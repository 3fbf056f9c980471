/** Locality ranking: the members, nearest first, that a creation's `locality` mixin allows (Vivaldi coordinates refined by measured RTTs). */
import type { Member, Mesh } from '../../mesh/mesh.js';
import { type Coordinate, distance } from '../../mesh/vivaldi/coordinate.js';
import { OcciError } from '../../occi/errors.js';
import { LOCALITY, LOCALITY_COORDINATE, LOCALITY_MAX_RTT, LOCALITY_NEAR } from '../../occi/placement-model.js';

export class LocalityRanking {
  constructor(private readonly mesh: Mesh) {}

  /** Member keys, nearest first, that the locality attributes allow. */
  async rank(attributes: Record<string, unknown>): Promise<string[]> {
    const mesh = this.mesh;
    const near = attributes[LOCALITY_NEAR];
    const coordinate = attributes[LOCALITY_COORDINATE];
    const maxRtt = attributes[LOCALITY_MAX_RTT];
    let from: Coordinate | undefined;
    if (typeof near === 'string' && near !== '') {
      const anchors = [mesh.self(), ...mesh.members()].filter((m) => m.name === near || m.site === near);
      if (anchors.length === 0) throw OcciError.invalidAttribute(LOCALITY_NEAR, `no node or site of the mesh is named ${JSON.stringify(near)}`);
      if (anchors.some((m) => m.key === mesh.key)) return [mesh.key];
      // Nearest to this entry node among the named ones, then the rest from there.
      const ranked = await mesh.nearest({ measure: true });
      return ranked.filter((r) => anchors.some((a) => a.key === r.candidate.key)).map((r) => r.candidate.key);
    }
    if (typeof coordinate === 'string') from = parseCoordinate(coordinate, mesh.self());
    const ranked = await mesh.nearest(from ? { coordinate: from } : { measure: true });
    const limit = typeof maxRtt === 'number' ? maxRtt : Number(maxRtt ?? Infinity);
    const within = ranked.filter((r) => (r.measuredMs ?? r.predictedMs) <= limit).map((r) => r.candidate.key);
    if (within.length === 0) throw OcciError.conflict(`no node of the mesh is within ${limit} ms of the requested locality`);
    return within;
  }

  /**
   * The nodes (this one included) within the user's maximum RTT, when the locality sets one: the
   * user stands at the coordinate given, else at the named node or site, else at this node (the
   * node nearest the user).
   */
  withinMaxRtt(attributes: Record<string, unknown>, mixins: readonly string[]): string[] | undefined {
    const maxRtt = Number(attributes[LOCALITY_MAX_RTT]);
    if (!mixins.includes(LOCALITY) || attributes[LOCALITY_MAX_RTT] === undefined || !Number.isFinite(maxRtt)) return undefined;
    const mesh = this.mesh;
    const everyone = [mesh.self(), ...mesh.members()];
    const near = attributes[LOCALITY_NEAR];
    const coordinate = attributes[LOCALITY_COORDINATE];
    const anchor = typeof near === 'string' && near !== '' ? everyone.find((m) => m.name === near || m.site === near) : undefined;
    const from = typeof coordinate === 'string' ? parseCoordinate(coordinate, mesh.self()) : (anchor ?? mesh.self()).coordinate;
    if (!from) return [mesh.key];
    return everyone.filter((m) => m.key === mesh.key || (m.coordinate !== null && distance(from, m.coordinate) <= maxRtt)).map((m) => m.key);
  }
}

/** `x,y,…,height` in ms; the error and adjustment are taken as a fresh node's. */
function parseCoordinate(text: string, self: Member): Coordinate {
  const parts = text.split(',').map(Number);
  const dims = self.coordinate?.vec.length ?? parts.length - 1;
  if (parts.length !== dims + 1 || parts.some((n) => !Number.isFinite(n))) {
    throw OcciError.invalidAttribute(LOCALITY_COORDINATE, `expected ${dims} components and a height, comma-separated`);
  }
  return { vec: parts.slice(0, dims), height: parts[dims]!, error: 1.5, adjustment: 0 };
}
