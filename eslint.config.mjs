// Lint: typescript-eslint's recommended type-checked rules over src/, test/, bench/ and scripts/.
// Each rule switched off or down below says why. Old findings that predate the lint are listed in
// eslint-suppressions.json (ESLint's bulk suppressions): new code must be clean; `npm run lint` fails on any new one.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'runs/**', '.tmp/**', 'bench/peers/**', 'lab/dist/**', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Unused names are errors, except the conventional `_`-prefixed placeholders of a fixed signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // Build scripts in plain JavaScript: no type information, so the type-checked rules are off for them.
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked, languageOptions: { globals: { ...globals.node } } },
);
