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
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['apps/*/tsconfig.json', 'packages/*/tsconfig.json', 'infra/tsconfig.json', 'bench/tsconfig.json'], noWarnOnMultipleProjects: true })]
    },
    rules: {
      // Value cycles, in the editor too; `npm run lint:cycles` (madge) also sees type-only ones.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // The house style where it differs from standard's: `name(args)`, as TypeScript writes it.
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside).
      'no-void': 'off',
      // `new Promise((_, reject) => ...)` for a timeout that only ever rejects.
      'promise/param-names': ['error', { resolvePattern: '^_?(resolve)?$' }],
      // TypeBox's idiom: a schema and its static type share one name.
      '@typescript-eslint/no-redeclare': 'off',
      // Loops that wait on a flag another callback sets (`while (!stopped)`) are how tests and
      // drains stop; the rule cannot see the callback.
      'no-unmodified-loop-condition': 'off',
      // `let service` declared before the signal handler that reads it, assigned once started.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }]
    }
  },
  {
    // Every HTTP error of the api is declared in src/errors.ts (code, message, status), so a
    // code is defined once and docs/errors.md can be checked against it.
    files: ['apps/api/src/**/*.ts'],
    ignores: ['apps/api/src/errors.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: '@fastify/error', message: 'declare HTTP errors in apps/api/src/errors.ts' }]
      }]
    }
  },
  {
    // The console is a Preact app: JSX with Preact's automatic runtime.
    files: ['apps/console/**/*.tsx'],
    rules: {
      'react/react-in-jsx-scope': 'off',
      // These two disagree with @stylistic/indent on elements inside a `cond ? <a/> : <b/>`.
      '@stylistic/jsx-indent': 'off',
      '@stylistic/jsx-closing-tag-location': 'off'
    }
  }
]
