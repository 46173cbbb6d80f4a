// The generator's batch fills against its one-at-a-time draws: rand, randn and uniform read the
// stream through the fills, so a seed gives the values it gave before, and the stream goes on
// from the same position.
import { describe, expect, it } from 'vitest';
import { Generator, nextNormal, nextUniform } from '../../src/core/random.js';
import { manualSeed, rand, randn, uniform } from '../../src/index.js';

const oneByOne = (n: number, draw: () => number) => Float32Array.from({ length: n }, draw);

describe('Generator fills', () => {
  it('fillUniform and fillNormal give the draws of nextUniform and nextNormal, and leave the same state', () => {
    for (const seed of [0, 1, 42, 2 ** 32 - 1]) {
      const one = new Generator().manualSeed(seed), many = new Generator().manualSeed(seed);
      const u = new Float64Array(257), z = new Float64Array(131);
      many.fillUniform(u);
      many.fillNormal(z);
      expect(Array.from(u)).toEqual(Array.from({ length: 257 }, () => one.nextUniform()));
      expect(Array.from(z)).toEqual(Array.from({ length: 131 }, () => one.nextNormal()));
      expect(many.getState()).toBe(one.getState());
    }
  });

  it('rand, randn and uniform draw from the global stream as one draw per value', () => {
    manualSeed(9);
    const want = [oneByOne(100, nextUniform), oneByOne(100, nextNormal), oneByOne(100, () => -2 + 5 * nextUniform())];
    manualSeed(9);
    const got = [rand([100]), randn([100]), uniform([100], -2, 3)].map((t) => t.dataSync());
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(want[i]!)));
  });
});
