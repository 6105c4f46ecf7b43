/**
 * Architecture checks (`npm test` runs them right after lint; by hand: npx depcruise --config .dependency-cruiser.cjs .).
 * Layers: domain/ is pure; workflows/ is deterministic sandbox code; activities/ do the side effects; workers/ host
 * them (process entry points, over the shared plumbing in platform/); clients/ (the API, CLI and web page) start and
 * steer work through services/, the one way each workflow is started and commanded. Tooling: harness/ is shared by test/, bench/, chaos/ and scripts/, which never reach
 * into each other (test/ may run chaos scenarios through chaos/index.ts, their public entry).
 *
 * .dependency-cruiser-known.cjs lists today's violations of the layer rules, each with the issue-9 item that
 * removes it: the check passes and every exception stays visible. The tooling rules have no exceptions.
 */

/** Exact-file regex for a repository path. */
const file = (p) => `^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

// DEPCRUISE_NO_KNOWN=1 drops the exceptions (test/architecture.test.ts checks each one is still a real violation).
const { KNOWN, KNOWN_CYCLES } =
  process.env.DEPCRUISE_NO_KNOWN === '1' ? { KNOWN: {}, KNOWN_CYCLES: [] } : require('./.dependency-cruiser-known.cjs');

const TOOLING = '(harness|scripts|bench|chaos|test|tools)';
const asArray = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** `rule` minus its KNOWN violations: each listed from → to pair is exempt, nothing else in those files is. */
function withKnown(rule) {
  const known = KNOWN[rule.name] ?? [];
  const froms = [...new Set(known.map((k) => k.from))];
  return [
    { ...rule, from: { ...rule.from, pathNot: [...asArray(rule.from.pathNot), ...froms.map(file)] } },
    ...froms.map((from) => ({
      ...rule,
      from: { path: file(from) },
      to: { ...rule.to, pathNot: [...asArray(rule.to.pathNot), ...known.filter((k) => k.from === from).map((k) => file(k.to))] },
    })),
  ];
}

const layerRules = [
  {
    name: 'domain-imports-nothing-outside-itself',
    comment: 'domain/ is pure trading logic: other domain modules and zod only (no I/O, no Node built-ins).',
    severity: 'error',
    from: { path: '^domain/' },
    to: { pathNot: ['^domain/', '^node_modules/zod/'] },
  },
  {
    name: 'workflows-import-only-domain-workflows-and-activity-types',
    comment: 'workflows/ runs in the sandbox: domain, workflows, the Temporal workflow API, and activities as types only.',
    severity: 'error',
    from: { path: '^workflows/' },
    to: { pathNot: ['^workflows/', '^domain/', '^node_modules/@temporalio/(workflow|common)/'], dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'workflows-import-only-domain-workflows-and-activity-types',
    comment: 'Types too: workflows/ may import types from activities/ (their signatures), not from Node-side modules.',
    severity: 'error',
    from: { path: '^workflows/' },
    to: { pathNot: ['^workflows/', '^domain/', '^activities/', '^node_modules/'], dependencyTypes: ['type-only'] },
  },
  {
    name: 'activities-never-import-clients',
    comment: 'Activities get what they need through narrow ports, never from the API or the CLI.',
    severity: 'error',
    from: { path: '^activities/' },
    to: { path: '^clients/' },
  },
  {
    name: 'process-plumbing-lives-in-platform',
    comment: 'workers/ are process entry points that nothing imports; what processes share (config, logger, pools, the Temporal connection, heartbeats) lives in platform/.',
    severity: 'error',
    from: { pathNot: [`^${TOOLING}/`, '^workers/'] },
    to: { path: '^workers/' },
  },
  {
    name: 'platform-imports-no-process-or-client',
    comment: 'platform/ is the plumbing under every process, so it depends on none of them (nor on the activities they host, nor the services).',
    severity: 'error',
    from: { path: '^platform/' },
    to: { path: '^(workers|clients|activities|services)/' },
  },
  {
    name: 'services-sit-under-the-clients',
    comment: 'services/ is how work is started and steered (routes, tools and workers call it); it knows no route, CLI command, worker or activity.',
    severity: 'error',
    from: { path: '^services/' },
    to: { path: '^(clients|workers|activities)/' },
  },
  {
    name: 'activities-get-plumbing-through-ports',
    comment: 'Activities are built by factories over narrow ports: config, logger and pools are handed in, never imported.',
    severity: 'error',
    from: { path: '^activities/' },
    to: { path: '^platform/' },
  },
  {
    name: 'product-never-imports-tooling',
    comment: 'Product code runs without the tooling folders.',
    severity: 'error',
    from: { pathNot: `^${TOOLING}/` },
    to: { path: `^${TOOLING}/` },
  },
];

module.exports = {
  forbidden: [
    ...layerRules.flatMap(withKnown),
    {
      name: 'harness-imports-no-tooling-folder',
      comment: 'harness/ is what the tooling folders share, so it depends on none of them.',
      severity: 'error',
      from: { path: '^harness/' },
      to: { path: `^${TOOLING}/`, pathNot: '^harness/' },
    },
    {
      name: 'tooling-folders-keep-out-of-each-other',
      comment: 'test/, bench/, chaos/ and scripts/ import their own files, harness/ and, of chaos/, only its public chaos/index.ts.',
      severity: 'error',
      from: { path: '^(scripts|bench|chaos|test)/' },
      to: { path: `^${TOOLING}/`, pathNot: ['^$1/', '^harness/', '^chaos/index\\.ts$'] },
    },
    {
      name: 'no-cycles-in-tooling',
      comment: 'No exception: a cycle here is the loop the harness folder removed.',
      severity: 'error',
      from: { path: `^${TOOLING}/` },
      to: { circular: true },
    },
    {
      name: 'no-cycles',
      comment: 'Type-only imports count too: a cycle of types is still a knot a reader must untie.',
      severity: 'error',
      from: {},
      to: { circular: true, ...(KNOWN_CYCLES.length ? { viaOnly: { pathNot: KNOWN_CYCLES.map(file) } } : {}) },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      from: {},
      // the results page's browser modules import the chart libraries by the URL the API serves them at
      // (CHART_LIBRARIES in clients/api/routes/results-page.ts), not by a path
      to: { couldNotResolve: true, pathNot: '^/web/vendor/[\\w-]+\\.mjs$' },
    },
  ],
  options: {
    doNotFollow: { path: '^node_modules/' },
    exclude: { path: '^(dist|coverage|tools|\\.local|test/\\.artifacts)/' },
    // type-only imports are dependencies too (a cycle of types is still a cycle; workflows import activities as types)
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts', '.json'] },
  },
};
