// Lint: typescript-eslint's recommended type-checked rules over src/, test/, bench/ and scripts/.
// Each rule switched off or down below says why; the one line that disables a rule in the source says why beside it.
// There are no suppressed findings: `npm run lint` fails on any.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'runs/**', '.tmp/**', 'bench/peers/**', 'lab/dist/**', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    ignores: ['lab/**'],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Unused names are errors, except the conventional `_`-prefixed placeholders of a fixed signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The lab's page and build scripts: the browser's DOM types come from lab/tsconfig.json.
  {
    files: ['lab/**/*.ts'],
    languageOptions: {
      globals: { ...globals.browser, ...globals.node },
      parserOptions: { project: './lab/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // The CLI reads commander's parsed options, which commander types as `any` (OptionValues = Record<string, any>):
  // each value is checked at the command's boundary (the parsers in src/cli/options.ts and util.ts), so the
  // no-unsafe-* family would flag every read of an option without finding anything. The tests read the CLI's JSON
  // documents (JSON.parse: `any`) and assert on their fields, where the assertion is the check.
  {
    files: ['src/cli/**/*.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // Tests hold methods as values without calling them: they check which implementation a record holds
  // (`expect(wasm.gemm).not.toBe(referenceKernels.gemm)`) and swap process.stdout.write out and back, so an unbound
  // `this` cannot arise there.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/unbound-method': 'off' } },
  // Build scripts in plain JavaScript: no type information, so the type-checked rules are off for them.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: { ...globals.node } } },
);
