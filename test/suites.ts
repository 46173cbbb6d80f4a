// Starts one shared suite on one entry of the backend matrix: the whole of each
// test/<suite>/<entry>.test.ts.
import { defineConformance } from './conformance/suite.js';
import { defineDifferential } from './differential/suite.js';
import { defineFuzz } from './fuzz/suite.js';
import { type Suite, matrixEntry } from './matrix.js';
import { defineSoak } from './soak/suite.js';

/** Defines `suite`'s tests for the matrix entry `name`, with that entry's settings. */
export function runSuite(suite: Suite, name: string): void {
  const entry = matrixEntry(name);
  if (suite === 'conformance' && entry.conformance) return defineConformance(entry, entry.conformance.numRuns);
  if (suite === 'fuzz' && entry.fuzz) return defineFuzz(entry, entry.fuzz.numRuns);
  if (suite === 'differential' && entry.differential) return defineDifferential(entry, entry.differential.numRuns);
  if (suite === 'soak' && entry.soak) return defineSoak(entry, entry.soak.steps);
  throw new Error(`the matrix entry '${name}' does not join the ${suite} suite; add \`${suite}: { … }\` to it in test/matrix.ts or remove test/${suite}/${name}.test.ts`);
}
