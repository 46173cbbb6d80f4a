// The conformance suite on the 'gpujs' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('conformance', 'gpujs');
