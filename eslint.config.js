import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'wasm/build/',
      'wasm/assembly/',
      'wasm/unet/',
      'kernels/wgsl.generated.ts',
      '.wrangler/',
      'models/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The Worker reaches the engine through one door (engine/edge.ts, which re-exports
    // engine/protocol/): the Worker<->node contract stays in one folder both sides import, and
    // nothing Node-only can slip into the workerd bundle by a deep import.
    files: ['worker/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // The compiled kernel module is the one exception: workerd cannot compile WASM from
              // bytes, so the binary itself is imported (its wrapper comes through engine/edge.ts).
              regex: '^(\\.\\./)+(engine/(?!edge\\.js$|protocol/)|wasm/(?!build/[\\w-]+\\.wasm$))',
              message: 'worker/ imports the engine only through engine/edge.ts or engine/protocol/.',
            },
          ],
        },
      ],
    },
  },
  {
    // What ships runs in workerd; the unit tests beside it run under Node.
    files: ['worker/**/*.ts'],
    ignores: ['worker/**/*.test.ts', 'worker/test-doubles.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^node:', message: 'worker/ runs in workerd: no Node built-ins.' }] },
      ],
    },
  },
);
