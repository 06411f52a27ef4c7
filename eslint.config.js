import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import settle from './eslint/layers.js';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/', '.tmp-*'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly' } },
  },
  {
    // Tests may not reach around the store port either; bench/ may, for its raw-SQLite baseline.
    files: ['test/**/*.ts', 'test/**/*.tsx'],
    plugins: { settle },
    rules: { 'settle/layers': 'error' },
  },
  {
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    plugins: { settle },
    rules: {
      'settle/layers': 'error',
      // Money is never a float: parseFloat has no business in src/.
      'no-restricted-globals': ['error', { name: 'parseFloat', message: 'Money is never a float; use parseDecimal / decimal.js.' }],
      'no-restricted-properties': ['error', { object: 'Number', property: 'parseFloat', message: 'Money is never a float.' }],
    },
  },
);
