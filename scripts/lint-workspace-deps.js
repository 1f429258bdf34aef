'use strict'
// Every workspace package a file imports must be declared in that workspace's package.json:
// turbo orders builds by those declarations, so an undeclared `@socialnet/*` import works on a
// machine where the package happens to be built already and fails on a clean checkout.
// (import-x/no-extraneous-dependencies cannot see it there: the import does not resolve
// before the build, and the rule skips what it cannot resolve.)
const { readdirSync, readFileSync, statSync } = require('node:fs')
const { join, relative } = require('node:path')

const root = join(__dirname, '..')
const skip = new Set(['node_modules', 'dist', 'coverage', 'test-output', 'results'])
const importOf = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"](@socialnet\/[a-z0-9-]+)/g

function * sourceFiles(dir) {
  for (const entry of readdirSync(dir)) {
    if (skip.has(entry)) continue
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) yield * sourceFiles(path)
    else if (/\.(ts|tsx|js|mjs|cjs)$/.test(entry)) yield path
  }
}

const folders = require('../package.json').workspaces.flatMap((pattern) => pattern.endsWith('/*')
  ? readdirSync(join(root, pattern.slice(0, -2))).map((name) => join(pattern.slice(0, -2), name))
  : [pattern])

const problems = []
for (const folder of folders) {
  let manifest
  try { manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) } catch { continue }
  const declared = new Set([manifest.name, ...Object.keys({ ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies })])
  for (const file of sourceFiles(join(root, folder))) {
    for (const [, name] of readFileSync(file, 'utf8').matchAll(importOf)) {
      if (!declared.has(name)) problems.push(`${relative(root, file)} imports ${name}, which ${folder}/package.json does not declare`)
    }
  }
}
for (const problem of new Set(problems)) console.error(problem)
process.exitCode = problems.length > 0 ? 1 : 0
