// The conformance suite on the 'cpu-js' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('conformance', 'cpu-js');
