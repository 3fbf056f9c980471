/**
 * RTT matrices in the format of `vendor/rtt/countries.csv`: a header
 * `id,<c1>,…,<cn>` then rows `<ci>,<rtt to c1>,…` in ms. Used by the Vivaldi
 * evaluation and by delay injection (`--rtt <csv> --sites a,b,c`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The measured 95-country matrix vendored with the project (vendor/rtt/README.md: provenance, caveats). */
export const COUNTRIES_RTT_MATRIX = fileURLToPath(new URL('../../vendor/rtt/countries.csv', import.meta.url));

export interface RttMatrixData {
  readonly ids: readonly string[];
  /** rtt[i][j] in ms; the diagonal holds whatever the file says (intra-site RTT). */
  readonly rtt: readonly (readonly number[])[];
}

export function parseRttMatrix(text: string): RttMatrixData {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',').map((s) => s.trim());
  if (!header || header.length < 2) throw new Error('RTT matrix: missing header row');
  const ids = header.slice(1);
  const index = new Map(ids.map((id, i) => [id, i]));
  const rtt: number[][] = ids.map(() => new Array<number>(ids.length).fill(Number.NaN));
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map((s) => s.trim());
    const i = index.get(cells[0] ?? '');
    if (i === undefined) throw new Error(`RTT matrix: unknown row id ${cells[0]}`);
    if (cells.length !== ids.length + 1) throw new Error(`RTT matrix: row ${cells[0]} has ${cells.length - 1} values`);
    for (let j = 0; j < ids.length; j++) {
      const v = Number(cells[j + 1]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`RTT matrix: bad value at ${cells[0]},${ids[j]}`);
      rtt[i]![j] = v;
    }
  }
  rtt.forEach((row, i) => {
    if (row.some(Number.isNaN)) throw new Error(`RTT matrix: missing row ${ids[i]}`);
  });
  return { ids, rtt };
}

export function loadRttMatrix(path: string): RttMatrixData {
  return parseRttMatrix(readFileSync(path, 'utf8'));
}

/** The matrix with a zero diagonal (the diagonal of the data sets is intra-site, not self-distance). */
export function zeroDiagonal(m: RttMatrixData): number[][] {
  return m.rtt.map((row, i) => row.map((v, j) => (i === j ? 0 : v)));
}

/** RTT in ms between two sites of the matrix (the intra-site value when equal). */
export function siteRtt(m: RttMatrixData, a: string, b: string): number {
  const i = m.ids.indexOf(a);
  const j = m.ids.indexOf(b);
  if (i < 0) throw new Error(`RTT matrix: unknown site ${a}`);
  if (j < 0) throw new Error(`RTT matrix: unknown site ${b}`);
  return m.rtt[i]![j]!;
}

/**
 * Delay function for a node at `localSite`: half the RTT to the peer's site
 * (each direction of a round trip is delayed once). `siteOf` maps a peer key
 * to its site; unknown peers get no delay. Same-site peers get half the
 * intra-site RTT unless `sameSiteMs` is given.
 */
export function siteDelay(
  m: RttMatrixData,
  localSite: string,
  siteOf: (peerKey: string) => string | undefined,
  sameSiteMs?: number,
): (peerKey: string) => number {
  siteRtt(m, localSite, localSite); // validates the site
  return (peerKey) => {
    const site = siteOf(peerKey);
    if (site === undefined) return 0;
    if (site === localSite && sameSiteMs !== undefined) return sameSiteMs;
    return siteRtt(m, localSite, site) / 2;
  };
}

/** Parse `--sites a,b,c` and check every id exists in the matrix. */
export function parseSites(m: RttMatrixData, list: string): string[] {
  const sites = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sites) siteRtt(m, s, s);
  return sites;
}
