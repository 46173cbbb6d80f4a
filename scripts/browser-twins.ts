// How the browser build leaves Node-only code behind: a module `foo.ts` with a `foo.browser.ts`
// beside it is replaced by that twin, which exports the same names (Dawn loading, headless-gl,
// file I/O live in such modules). Any `node:` import that still reaches the bundle fails the build.
import { existsSync } from 'node:fs';
import type { Plugin as EsbuildPlugin } from 'esbuild';
import type { Plugin as VitePlugin } from 'vite';

/** The browser twin of a TypeScript module (`foo.ts` → `foo.browser.ts`), or null when it has none. */
export function browserTwin(file: string): string | null {
  if (!file.endsWith('.ts') || file.endsWith('.browser.ts') || file.endsWith('.d.ts') || file.includes('node_modules')) return null;
  const twin = `${file.slice(0, -3)}.browser.ts`;
  return existsSync(twin) ? twin : null;
}

const nodeOnly = (importer: string, path: string) =>
  `${importer} imports '${path}', which browsers do not have: move that code into a module with a .browser.ts twin (see scripts/browser-twins.ts)`;

/** esbuild plugin: resolves each module to its browser twin when it has one, and refuses `node:` imports. */
export function browserTwinsEsbuild(): EsbuildPlugin {
  const inner = Symbol('resolving');
  return {
    name: 'tsgrad-browser-twins',
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => ({ errors: [{ text: nodeOnly(args.importer, args.path) }] }));
      build.onResolve({ filter: /^\./ }, async (args) => {
        if (args.pluginData === inner) return undefined;
        const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: inner });
        if (r.errors.length > 0) return { errors: r.errors };
        return { path: browserTwin(r.path) ?? r.path, sideEffects: r.sideEffects };
      });
    },
  };
}

/** The same for Vite (the playground serves the library from source). */
export function browserTwinsVite(): VitePlugin {
  return {
    name: 'tsgrad-browser-twins',
    enforce: 'pre',
    async resolveId(id, importer, options) {
      if (id.startsWith('node:')) this.error(nodeOnly(importer ?? '(entry)', id));
      if (!id.startsWith('.')) return null;
      const r = await this.resolve(id, importer, { ...options, skipSelf: true });
      return r ? (browserTwin(r.id) ?? r) : null;
    },
  };
}
