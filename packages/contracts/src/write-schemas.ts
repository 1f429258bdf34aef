import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MESSAGE_SCHEMAS, MESSAGE_TYPES } from './registry'

/**
 * Writes one JSON Schema file per message (`schemas/<type>.json`) so a
 * consumer in another language validates exactly what TypeBox validates.
 * Runs as part of `build`; the files are committed so they can be read and
 * diffed without building.
 */
export function writeSchemas(dir = join(__dirname, '..', 'schemas')): string[] {
  mkdirSync(dir, { recursive: true })
  return MESSAGE_TYPES.map((type) => {
    const file = join(dir, `${type}.json`)
    const schema = { $schema: 'http://json-schema.org/draft-07/schema#', ...MESSAGE_SCHEMAS[type] }
    writeFileSync(file, JSON.stringify(schema, null, 2) + '\n')
    return file
  })
}

if (require.main === module) writeSchemas()
