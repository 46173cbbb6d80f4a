// The layers of src/, checked by `npm run deps` (dependency-cruiser). Imports point down only:
//
//   src/index.ts            the package entry: wires everything, imported by nothing in src/
//   models                  may import nn, io and core
//   io                      may import nn, optim and core (checkpoints hold a model's and an optimizer's state)
//   nn, optim, data         import core only
//   backends/index.ts       the one place that registers the built-in backends, through their plugin.ts
//   backends/<name>/        one backend: imports core and backends/shared/ only, never another backend
//   backends/shared/        plumbing the backends share: imports core only
//   core                    imports nothing above it; knows the Backend interface, never a backend
//   core/inspect/           tools that look at the engine (graph printers, trace, gradcheck); the rest
//                           of core (the engine) never imports them
//   examples/backend/       the example backend of docs/backends.md, held to a backend's rule
//
// Type-only imports count: core naming a backend's option type is as much a dependency as a call.
const ABOVE_CORE = 'backends|nn|optim|io|data|models';

/** A rule forbidding `from`'s modules to import the folders of src/ in `folders` (a regex alternation). */
const layer = (name, from, folders, comment) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: `^src/(${folders})/` },
});

module.exports = {
  forbidden: [
    layer('core-is-the-base', '^src/core/', ABOVE_CORE, 'core imports nothing from backends, nn, optim, io, data or models'),
    {
      name: 'engine-without-inspect',
      comment: 'the engine (core outside core/inspect/) never imports the inspection tools; hooks it runs on every op stay in the engine',
      severity: 'error',
      from: { path: '^src/core/', pathNot: '^src/core/inspect/' },
      to: { path: '^src/core/inspect/' },
    },
    layer('nn-on-core', '^src/nn/', 'backends|optim|io|data|models', 'nn imports core only'),
    layer('optim-on-core', '^src/optim/', 'backends|nn|io|data|models', 'optim imports core only'),
    layer('data-on-core', '^src/data/', 'backends|nn|optim|io|models', 'data imports core only'),
    layer('io-on-core-nn-optim', '^src/io/', 'backends|data|models', 'io imports core, nn and optim only'),
    layer('models-on-core-nn-io', '^src/models/', 'backends|optim|data', 'models import core, nn and io only'),
    {
      name: 'backend-on-core-and-shared',
      comment: 'a backend imports core and backends/shared/ only, never another backend; shared/ imports core only',
      severity: 'error',
      from: { path: '^src/backends/([^/]+)/' },
      to: { path: '^src/', pathNot: '^src/(core/|backends/shared/|backends/$1/)' },
    },
    {
      name: 'example-backend-like-a-backend',
      comment: 'the example backend (docs/backends.md) imports core and backends/shared/ only, as a backend in src/backends/<name>/ would',
      severity: 'error',
      from: { path: '^examples/backend/' },
      to: { path: '^src/', pathNot: '^src/(core/|backends/shared/)' },
    },
    {
      name: 'backends-registered-through-plugins',
      comment: 'the registry reaches each backend through its plugin.ts (name, checkOptions, create) only',
      severity: 'error',
      from: { path: '^src/backends/index\\.ts$' },
      to: { path: '^src/backends/[^/]+/', pathNot: '^src/backends/[^/]+/plugin\\.ts$' },
    },
    {
      name: 'gpu-backends-load-lazily',
      comment: 'outside its own folder, a GPU backend\'s code is loaded by a dynamic import only (its types and options are free), so CPU-only users and the browser bundle never load it eagerly',
      severity: 'error',
      from: { pathNot: '^src/backends/(webgpu|gpujs)/' },
      to: { path: '^src/backends/(webgpu|gpujs)/', pathNot: '/(options|plugin)\\.ts$', dependencyTypesNot: ['dynamic-import', 'type-only'] },
    },
    {
      name: 'entry-is-the-top',
      comment: 'nothing in src/ imports the package entry',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'no-cycle-across-folders',
      comment: 'no import cycle leaves the folder of src/ it starts in',
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { circular: true, via: { pathNot: '^src/$1/' } },
    },
    {
      name: 'no-circular',
      comment:
        'no cycle of value imports anywhere: modules load in one order, and each op file depends on Tensor, never the reverse. ' +
        'Allowed: cycles that pass through a type-only import (Tensor and its graph node, scope or formatter name each ' +
        'other\'s types), since such an import is erased when compiled and orders nothing',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
