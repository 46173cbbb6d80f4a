// The conformance cases, bundled for a page: tsgrad itself comes from the browser bundle (/tsgrad.js),
// which the page also exposes as globalThis.tsgrad.
import * as tsgrad from '../../src/index.js';
import { CASES } from '../conformance/cases.js';
import { DEFAULT_TOL, checkCase } from '../conformance/check.js';

export interface PageConformance {
  info: Record<string, unknown>;
  failures: { name: string; error: string }[];
  ran: string[];
}

async function runConformance(backend: string, names: string[], numRuns: number): Promise<PageConformance> {
  await tsgrad.initBackend(backend);
  const failures: PageConformance['failures'] = [];
  const ran: string[] = [];
  for (const c of CASES.filter((k) => names.includes(k.name))) {
    ran.push(c.name);
    try {
      await checkCase(c, backend, c.tol ?? DEFAULT_TOL, numRuns);
    } catch (e) {
      failures.push({ name: c.name, error: (e as Error).message.slice(0, 600) });
    }
  }
  return { info: tsgrad.getBackendInfo(backend), failures, ran };
}

Object.assign(globalThis, { runConformance, tsgrad });
