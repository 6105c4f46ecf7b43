// Lint rules whose main job is keeping workflows/ deterministic and sandbox-safe.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'test/.artifacts/**', '.local/**', 'tools/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts', 'marketdata/port.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, 'pg', 'pg-copy-streams', 'ioredis', 'pino', 'fastify', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'].map((name) => ({
            name,
            message: 'workflows/ and domain/ must stay deterministic and sandbox-safe: no Node built-ins, I/O clients or loggers',
          })),
          patterns: [
            { group: ['**/activities/**', '**/workers/**', '**/platform/**', '**/services/**', '**/clients/**', '**/db/**'], allowTypeImports: true, message: 'import activities and Node-side modules as types only' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'no environment or process access in workflows/domain' },
        { name: 'require', message: 'no dynamic require in workflows/domain' },
        { name: 'console', message: 'use log from @temporalio/workflow' },
        { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' },
        { name: 'setInterval', message: 'use sleep() from @temporalio/workflow' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'no wall clock in workflows/domain; pass times in or use workflow time' },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts', 'activities/**/*.ts'],
    // lint-probe.ts exists only as stdin in test/bundle.test.ts, which proves these rules fire.
    languageOptions: { parserOptions: { projectService: { allowDefaultProject: ['workflows/backtest/lint-probe.ts'] }, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
);
