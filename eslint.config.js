// ESLint flat config: typescript-eslint's recommended rules on every TypeScript file.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'runs/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // Browser pages (bundled by Vite): browser globals only, and no Node built-ins.
    files: ['src/web/pages/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['node:*'], message: 'pages run in the browser: no Node imports.' }],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'pages run in the browser.' },
        { name: 'Buffer', message: 'pages run in the browser.' },
        { name: 'require', message: 'pages run in the browser.' },
      ],
    },
  },
  {
    // The core is sans-IO: no Node built-ins, no timers, no ambient randomness or clock.
    files: ['src/core/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'core/ and protocol/ are pure: no I/O imports.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'core/ is sans-IO: time arrives through tick(now_ms).' },
        { name: 'setInterval', message: 'core/ is sans-IO: time arrives through tick(now_ms).' },
        { name: 'Date', message: 'core/ is sans-IO: time arrives through tick(now_ms).' },
        { name: 'performance', message: 'core/ is sans-IO: time arrives through tick(now_ms).' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'core/ takes randomness as an input.' },
      ],
    },
  },
);
