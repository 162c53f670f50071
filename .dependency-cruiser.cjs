/**
 * The dependency rule of src/ and packages/ (`npm run depcheck`, run in .ci/run). Layers of src/,
 * lowest first; a layer may import only the ones below it:
 *
 *   core ← store ← providers ← events ← limiter ← worker, producer ← batches ← ops ← cli
 *
 * worker and producer sit side by side and do not import each other; batches (the batch collector)
 * joins the two routes and may import both. src/index.ts (the library's public exports) is outside
 * the layers.
 */
const layers = [
  'core',
  'store',
  'providers',
  'events',
  'limiter',
  'worker',
  'producer',
  'batches',
  'ops',
  'cli',
];
/** What each layer must not import. */
const above = {
  core: ['store', 'providers', 'events', 'limiter', 'worker', 'producer', 'batches', 'ops', 'cli'],
  store: ['providers', 'events', 'limiter', 'worker', 'producer', 'batches', 'ops', 'cli'],
  providers: ['events', 'limiter', 'worker', 'producer', 'batches', 'ops', 'cli'],
  events: ['limiter', 'worker', 'producer', 'batches', 'ops', 'cli'],
  limiter: ['worker', 'producer', 'batches', 'ops', 'cli'],
  worker: ['producer', 'batches', 'ops', 'cli'],
  producer: ['worker', 'batches', 'ops', 'cli'],
  batches: ['ops', 'cli'],
  ops: ['cli'],
  cli: [],
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layers
      .filter((layer) => above[layer].length > 0)
      .map((layer) => ({
        name: `layer-${layer}`,
        comment: `src/${layer} must not import ${above[layer].map((l) => `src/${l}`).join(', ')} (see the layer order at the top of .dependency-cruiser.cjs)`,
        severity: 'error',
        from: { path: `^src/${layer}/` },
        to: { path: `^src/(${above[layer].join('|')})/` },
      })),
    {
      name: 'worker-only-through-the-provider-seam',
      comment:
        'src/worker depends on providers only through their interface (src/providers/provider.ts): no provider SDK (`@anthropic-ai/*`, types included), no provider folder, not the registry',
      severity: 'error',
      from: { path: '^src/worker/' },
      to: {
        path: ['(^|/)node_modules/@anthropic-ai/', '^src/providers/'],
        pathNot: '^src/providers/provider\\.ts$',
      },
    },
    {
      name: 'src-not-to-scripts-or-test',
      comment: 'scripts/ and test/ are development tools; nothing in src (the shipped build) may import them',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(scripts|test)/' },
    },
    {
      name: 'simulator-only-dynamic',
      comment:
        'src loads the simulator package by its name, with a dynamic import() where there is no API key (types through `import type`)',
      severity: 'error',
      from: { path: '^src/' },
      to: {
        path: '(^|/)(packages/anthropic-simulator|node_modules/@promptq/anthropic-simulator)/',
        dependencyTypesNot: ['dynamic-import', 'type-only'],
      },
    },
    {
      name: 'simulator-by-package-name',
      comment:
        'src imports the simulator as @promptq/anthropic-simulator, never by a relative path into packages/',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^packages/', dependencyTypesNot: ['aliased-workspace', 'npm'] },
    },
    {
      name: 'no-circular',
      comment:
        'a cycle of imports makes the order of module initialisation fragile (type-only imports do not run, so they may close a cycle)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'packages-no-circular',
      comment:
        'a package under packages/ has no import cycle at all, not even one closed by a type-only import',
      severity: 'error',
      from: { path: '^packages/' },
      to: { circular: true },
    },
    {
      name: 'packages-stand-alone',
      comment:
        'a package under packages/ is published on its own: it imports nothing of promptq (src/, scripts/, test/) and no other package by a relative path',
      severity: 'error',
      from: { path: '^packages/([^/]+)/' },
      to: { path: '^(src|scripts|test)/|^packages/', pathNot: '^packages/$1/' },
    },
    {
      name: 'packages-declared-deps-only',
      comment:
        "a package under packages/ imports only the npm packages its own package.json declares as dependencies (none for the simulator: Node's built-ins only)",
      severity: 'error',
      from: { path: '^packages/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown', 'npm-dev', 'unknown', 'undetermined'] },
    },
    {
      name: 'src-not-to-dev-deps',
      comment:
        'the shipped build runs with production dependencies only (the one exception: `promptq bench` loads tsx dynamically, in a source checkout)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/bench\\.ts$' },
      to: { dependencyTypes: ['npm-dev'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // A package's build output is not its source.
    exclude: { path: '^packages/[^/]+/dist/' },
    // `import type` counts: a type is a dependency on the layer that owns it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // The simulator resolves to its sources, as in the typecheck: no build needed first.
      conditionNames: ['source', 'import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
