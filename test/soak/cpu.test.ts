// The CI soak on the CPU backend.
import { defineSoak } from './suite.js';

defineSoak('cpu');
