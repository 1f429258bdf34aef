// Lint and format in one: neostandard (the Fastify organisation's ESLint flat
// config: standard's rules and style, with typescript-eslint) checks and, with
// `npm run lint:fix`, formats. import-x adds the rule standard lacks for a
// monorepo: no import cycles, type-only ones included.
import neostandard from 'neostandard'
import importX from 'eslint-plugin-import-x'
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript'

export default [
  ...neostandard({
    ts: true,
    ignores: [
      '**/dist/**',
      '**/coverage/**',
      '**/node_modules/**',
      'apps/console/test-output/**',
      'bench/results/**',
      'packages/contracts/schemas/**'
    ]
  }),
  {
    files: ['**/*.{ts,tsx,js,mjs,cjs}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['apps/*/tsconfig.json', 'packages/*/tsconfig.json', 'infra/tsconfig.json'] })]
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }]
    }
  },
  {
    // The console is a Preact app: JSX with Preact's automatic runtime.
    files: ['apps/console/**/*.tsx'],
    rules: { 'react/react-in-jsx-scope': 'off' }
  }
]
