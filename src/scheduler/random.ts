/** Deterministic random source (mulberry32) and the distributions the simulator needs. */
export interface RandomSource {
  /** Uniform in [0, 1). */
  next(): number;
}

export function seededRandom(seed: number): RandomSource {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  return {
    next(): number {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export function uniformInt(rng: RandomSource, n: number): number {
  return Math.floor(rng.next() * n);
}

/** Exponential variate with the given rate (events per unit). */
export function exponential(rng: RandomSource, rate: number): number {
  return -Math.log(1 - rng.next()) / rate;
}

/** Standard Gaussian variate (Box–Muller). */
export function gaussian(rng: RandomSource, mean: number, sd: number): number {
  const u = 1 - rng.next();
  const v = rng.next();
  return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** In-place Fisher–Yates shuffle. */
export function shuffle<T>(rng: RandomSource, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = uniformInt(rng, i + 1);
    const t = items[i] as T;
    items[i] = items[j] as T;
    items[j] = t;
  }
  return items;
}
