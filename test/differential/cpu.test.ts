// CPU float32 against CPU float64 over random programs.
import { defineDifferential } from './suite.js';

defineDifferential('cpu', { numRuns: 300 });
