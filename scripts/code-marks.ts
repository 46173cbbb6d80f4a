// For apps that bundle tsgrad from its sources (the playground does): each source module opens
// and closes with a code mark (see src/core/leaks.ts), as each file of the browser build does, so
// leak warnings skip tsgrad's frames in the app's bundle. Line numbers stay as they were.
import { fileURLToPath } from 'node:url';
import type { Plugin as VitePlugin } from 'vite';
import { codeMark } from '../src/core/leaks.js';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Vite plugin: marks where each of tsgrad's source modules starts and ends in the bundle. */
export function codeMarksVite(): VitePlugin {
  return {
    name: 'tsgrad-code-marks',
    enforce: 'post',
    transform(code, id) {
      if (!id.startsWith(SRC) || !/\.[jt]s$/.test(id)) return null;
      return { code: `${codeMark('start')}${code}\n${codeMark('end')}`, map: null };
    },
  };
}
