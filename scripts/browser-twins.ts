// How the browser build leaves Node-only code behind: a module `foo.ts` with a `foo.browser.ts`
// beside it is replaced by that twin, which exports the same names (Dawn loading, headless-gl,
// file I/O live in such modules). Any `node:` import that still reaches the bundle fails the build.
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Plugin as EsbuildPlugin } from 'esbuild';

/** The browser twin of a TypeScript module (`foo.ts` → `foo.browser.ts`), or null when it has none. */
export function browserTwin(file: string): string | null {
  if (!file.endsWith('.ts') || file.endsWith('.browser.ts') || file.endsWith('.d.ts') || file.includes('node_modules')) return null;
  const twin = `${file.slice(0, -3)}.browser.ts`;
  return existsSync(twin) ? twin : null;
}

const nodeOnly = (importer: string, path: string) =>
  `${importer} imports '${path}', which browsers do not have: move that code into a module with a .browser.ts twin (see scripts/browser-twins.ts)`;

/** esbuild plugin: loads each module's browser twin in its place and refuses `node:` imports. */
export function browserTwinsEsbuild(): EsbuildPlugin {
  return {
    name: 'tsgrad-browser-twins',
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: nodeOnly(args.importer, args.path) }] }));
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        const twin = browserTwin(args.path);
        return twin ? { contents: readFileSync(twin, 'utf8'), loader: 'ts', resolveDir: dirname(twin), watchFiles: [twin] } : undefined;
      });
    },
  };
}

/** The same for Vite (the playground serves the library from source). */
export function browserTwinsVite(): { name: string; enforce: 'pre'; resolveId(id: string, importer?: string): void; load(id: string): string | null } {
  return {
    name: 'tsgrad-browser-twins',
    enforce: 'pre',
    resolveId(id, importer) {
      if (id.startsWith('node:')) throw new Error(nodeOnly(importer ?? '(entry)', id));
    },
    load(id) {
      const twin = browserTwin(id.split('?')[0]!);
      return twin ? readFileSync(twin, 'utf8') : null;
    },
  };
}
