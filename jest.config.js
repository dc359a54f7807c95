/** Jest: ts-jest in transpile-only mode (tsconfig isolatedModules); `npm run typecheck` does the type checking. */
module.exports = {
  // Node's environment with output held back unless a test fails (test/quiet-environment.ts).
  testEnvironment: '<rootDir>/test/quiet-environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // One temporary directory per run (TMPDIR), removed at its end: test/global-temp.ts.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60000,
  // Jest's default on 2 cores is one worker, i.e. every file in turn; the slow files are mostly the install
  // script's child processes and local-mode waits, which a second worker overlaps. Slowest files start first.
  maxWorkers: '100%',
};
