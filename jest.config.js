/** Jest: swc transpiles TypeScript (type checking is `npm run typecheck`); Temporal tests share one process-wide Runtime, so run in band. */
module.exports = {
  // Node's, plus a check that a file leaves no Temporal worker running (test/helpers/environment.ts)
  testEnvironment: '<rootDir>/test/helpers/environment.ts',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    // ESM-only packages that CommonJS dependencies require (content-disposition, via @fastify/static)
    '^.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  setupFiles: ['<rootDir>/test/helpers/quiet-runtime.ts', '<rootDir>/test/helpers/worker-registry.ts'],
  testTimeout: 60_000,
  maxWorkers: 1,
};
