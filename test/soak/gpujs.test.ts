// The CI soak on the gpu.js backend.
import { defineSoak } from './suite.js';

defineSoak('gpujs', 'The gpu.js backend needs the `gl` package built (headless-gl) and an X display or EGL: run under xvfb-run or set DISPLAY.');
