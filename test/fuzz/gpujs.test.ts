// The fuzz suite on the 'gpujs' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('fuzz', 'gpujs');
