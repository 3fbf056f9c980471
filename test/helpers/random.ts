/** A small seeded PRNG (mulberry32, the simulations' one) so mutation runs are repeatable. */
export { seededRandom } from '../../src/mesh/vivaldi/random.js';

export function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)]!;
}
