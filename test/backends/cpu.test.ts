// The CPU backend in float32 against CPU float64: the same suite every backend runs.
import { defineConformance } from '../conformance/suite.js';

defineConformance('cpu');
