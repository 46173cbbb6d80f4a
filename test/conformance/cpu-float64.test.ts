// The conformance suite on the 'cpu-float64' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('conformance', 'cpu-float64');
