import { Type } from '@sinclair/typebox'

/** The database variable of every service that opens the pool (api, mailer, worker), as a TypeBox property to spread. */
export const DatabaseEnv = {
  DATABASE_URL: Type.String({ format: 'uri', pattern: '^postgres(ql)?://', default: 'postgres://postgres@127.0.0.1:5432/socialnet' })
}
