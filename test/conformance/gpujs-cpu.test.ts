// The conformance suite on the 'gpujs-cpu' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('conformance', 'gpujs-cpu');
