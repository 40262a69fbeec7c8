// ESLint flat config: typescript-eslint's recommended rules on every TypeScript file, and the
// floors between the folders of src/ (the layer table in docs/ARCHITECTURE.md is this table).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * Which src/ folders each folder may import from (besides itself and npm packages). A folder
 * not listed as a key (cli) may import everything; no folder may import cli.
 */
const LAYERS = {
  util: [],
  core: ['util'],
  protocol: ['core', 'util'],
  identity: ['util'],
  stego: ['util'],
  directory: ['protocol', 'util'],
  http: ['util'],
  transport: ['protocol', 'identity', 'util'],
  client: ['core', 'protocol', 'transport', 'identity', 'stego', 'util'],
  server: [
    'core',
    'protocol',
    'transport',
    'identity',
    'stego',
    'directory',
    'http',
    'client',
    'util',
  ],
  peer: ['client', 'directory', 'http', 'identity', 'protocol', 'stego', 'transport', 'util'],
  sim: ['core', 'util'],
  stress: ['client', 'server', 'transport', 'netns', 'util'],
  report: ['stress', 'lab', 'util'],
  netns: ['util'],
  lab: ['client', 'directory', 'identity', 'peer', 'protocol', 'server', 'stress', 'netns', 'util'],
  web: ['protocol'],
};
/**
 * Single files a folder may import although their folder is above it: pure, and importing
 * nothing but what that folder may import itself (the peer API's route table imports protocol/
 * and api-types.ts, as the page may).
 */
const SHARED_FILES = {
  '*': ['transport/endpoint.js'],
  web: [
    'peer/api-types.js',
    'peer/ui-types.js',
    'peer/allowance-words.js',
    'peer/api-routes.js',
    'peer/api-route-urls.js',
  ],
};
const FOLDERS = ['cli', ...Object.keys(LAYERS)];

/** One block per folder and depth: from there a relative import reaches src/ by exactly `depth` '../'. */
function layerBlocks() {
  const blocks = [];
  for (const [folder, allowed] of Object.entries(LAYERS)) {
    const forbidden = FOLDERS.filter((other) => other !== folder && !allowed.includes(other));
    const shared = [...SHARED_FILES['*'], ...(SHARED_FILES[folder] ?? [])];
    const except = shared.map((file) => `(?!${file.replaceAll('.', '\\.')}$)`).join('');
    const message =
      `docs/ARCHITECTURE.md: src/${folder}/ may import ` +
      `${allowed.join(', ') || 'no other folder'} (and ${shared.join(', ')}).`;
    for (let depth = 1; depth <= 4; depth++) {
      const regex = `^(\\.\\./){${depth}}${except}(${forbidden.join('|')})/`;
      blocks.push({
        files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.{ts,tsx}`],
        rules: {
          '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
        },
      });
    }
  }
  return blocks;
}

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
  ...layerBlocks(),
);
