/** Jest: ts-jest in transpile-only mode (tsconfig isolatedModules); `npm run typecheck` does the type checking. */
module.exports = {
  // Node's environment with output held back unless a test fails (test/quiet-environment.ts).
  testEnvironment: '<rootDir>/test/quiet-environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['ts-jest', { diagnostics: false }] },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 60000,
};
