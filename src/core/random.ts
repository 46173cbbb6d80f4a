/** A seeded generator (mulberry32) shared by rand, randn, dropout and initializers. */
let state = 0x9e3779b9;

/**
 * Seeds every random draw tsgrad makes (initializers, rand/randn, dropout).
 *
 * @example
 * manualSeed(0); const a = randn([2, 2]); manualSeed(0); const b = randn([2, 2]); // a equals b
 */
export function manualSeed(seed: number): void {
  state = seed >>> 0;
}

/** Uniform in [0, 1). */
export function nextUniform(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** Standard normal (Box–Muller). */
export function nextNormal(): number {
  let u = 0;
  while (u === 0) u = nextUniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * nextUniform());
}
