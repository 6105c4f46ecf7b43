/**
 * Today's violations of the layer rules in .dependency-cruiser.cjs, each with the issue-9 item that removes it.
 * The check passes with them and every one stays visible here. Delete an entry in the change that removes the
 * violation: test/architecture.test.ts fails while an entry names a dependency that no longer breaks its rule.
 * The tooling rules (harness/, test/, bench/, chaos/, scripts/) have no exceptions.
 */
const KNOWN = {
  'process-plumbing-stays-in-workers': [
    // issue 9 item 2: config, logger, deps and the Temporal connection move from workers/ to a platform folder.
    { from: 'clients/api/app.ts', to: 'workers/config.ts' },
    { from: 'clients/api/app.ts', to: 'workers/logger.ts' },
    { from: 'clients/api/auth.ts', to: 'workers/config.ts' },
    { from: 'clients/api/routes/health.ts', to: 'workers/config.ts' },
    // (reading worker heartbeats is not named there: it moves with them, or this rule is narrowed then)
    { from: 'clients/api/routes/health.ts', to: 'workers/heartbeat.ts' },
    { from: 'clients/api/server.ts', to: 'workers/config.ts' },
    { from: 'clients/api/server.ts', to: 'workers/deps.ts' },
    { from: 'clients/api/server.ts', to: 'workers/logger.ts' },
    { from: 'db/migrate.ts', to: 'workers/config.ts' },
    { from: 'notify/settings.ts', to: 'workers/config.ts' },
    { from: 'notify/settings.ts', to: 'workers/logger.ts' },
  ],
};

const KNOWN_CYCLES = [
  // issue 9 item 3: ApiDeps moves out of clients/api/app.ts into its own file, which breaks the cycle of
  // app.ts and the eight route files that import its types.
  'clients/api/app.ts',
];

module.exports = { KNOWN, KNOWN_CYCLES };
