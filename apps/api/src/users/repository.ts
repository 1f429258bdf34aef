import type { Pool, PoolClient } from 'pg'
import { EmailTakenError, NicknameTakenError } from './errors'

type Queryable = Pool | PoolClient

/** A users row in camelCase; the one mapping every users query goes through. */
export interface User {
  id: string
  email: string
  nickname: string
  passwordHash: string
  firstName: string | null
  lastName: string | null
  emailVerifiedAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface NewUser {
  email: string
  nickname: string
  passwordHash: string
  firstName?: string
  lastName?: string
}

/** The select list for a User, qualified by table alias `t` (UPDATE ... FROM needs it). */
function userColumns(t = 'users'): string {
  return `${t}.id, ${t}.email, ${t}.nickname, ${t}.password_hash AS "passwordHash", ${t}.first_name AS "firstName",
    ${t}.last_name AS "lastName", ${t}.email_verified_at AS "emailVerifiedAt", ${t}.created_at AS "createdAt",
    ${t}.updated_at AS "updatedAt"`
}

/** The unique indexes of migration 1763769700000 and the error each one means. */
const UNIQUE_VIOLATIONS: Record<string, () => Error> = {
  users_email_key: () => new EmailTakenError(),
  users_nickname_key: () => new NicknameTakenError()
}

/** A unique violation on e-mail or nickname as its 409; anything else unchanged. */
function asTakenError(err: unknown): unknown {
  const { code, constraint } = err as { code?: string; constraint?: string }
  const taken = code === '23505' && constraint ? UNIQUE_VIOLATIONS[constraint] : undefined
  return taken ? taken() : err
}

/**
 * Inserts a user. The unique indexes on lower(email)/lower(nickname) are the
 * only check: a pre-check would still let two concurrent registrations race,
 * so a unique violation is translated to 409 instead.
 */
export async function insertUser(db: Queryable, user: NewUser): Promise<User> {
  try {
    const { rows } = await db.query<User>(
      `INSERT INTO users (email, nickname, password_hash, first_name, last_name)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${userColumns()}`,
      [user.email, user.nickname, user.passwordHash, user.firstName ?? null, user.lastName ?? null]
    )
    return rows[0]!
  } catch (err) {
    throw asTakenError(err)
  }
}

export async function findUserById(db: Queryable, id: string): Promise<User | undefined> {
  const { rows } = await db.query<User>(`SELECT ${userColumns()} FROM users WHERE id = $1`, [id])
  return rows[0]
}

/** Stores the hash of a verification token for `userId`, valid for `ttlSeconds` by the database's clock (the one verify compares with). */
export async function insertVerification(db: Queryable, userId: string, tokenHash: Buffer, ttlSeconds: number): Promise<void> {
  await db.query(
    'INSERT INTO email_verifications (token_hash, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))',
    [tokenHash, userId, ttlSeconds]
  )
}

/**
 * Marks the address of the token's user verified and returns the user, or
 * undefined for an unknown or expired token. Idempotent while the token is
 * valid: mail scanners often open links before the person does, so a second
 * click must not fail; the first verification time is kept.
 */
export async function verifyEmail(db: Queryable, tokenHash: Buffer): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `UPDATE users u SET
       email_verified_at = coalesce(u.email_verified_at, now()),
       updated_at = CASE WHEN u.email_verified_at IS NULL THEN now() ELSE u.updated_at END
     FROM email_verifications v
     WHERE v.token_hash = $1 AND v.expires_at > now() AND u.id = v.user_id
     RETURNING ${userColumns('u')}`,
    [tokenHash]
  )
  return rows[0]
}

/**
 * The user whose e-mail or nickname is `login`, case-insensitively (the unique
 * indexes' expressions, so both lookups use them). A nickname cannot contain
 * '@', so one login never matches two users.
 */
export async function findUserByLogin(db: Queryable, login: string): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `SELECT ${userColumns()} FROM users WHERE lower(email) = lower($1) OR lower(nickname) = lower($1)`,
    [login]
  )
  return rows[0]
}

/** The fields an owner may change with PATCH /v1/users/{id}; null clears a name. */
export interface ProfileChanges {
  nickname?: string
  firstName?: string | null
  lastName?: string | null
}

/** Applies `changes` to a user; a taken nickname is a 409 like at registration. */
export async function updateUser(db: Queryable, id: string, changes: ProfileChanges): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `UPDATE users SET
       nickname = CASE WHEN $2::boolean THEN $3 ELSE nickname END,
       first_name = CASE WHEN $4::boolean THEN $5 ELSE first_name END,
       last_name = CASE WHEN $6::boolean THEN $7 ELSE last_name END,
       updated_at = now()
     WHERE id = $1 RETURNING ${userColumns()}`,
    [id, changes.nickname !== undefined, changes.nickname ?? null, changes.firstName !== undefined, changes.firstName ?? null,
      changes.lastName !== undefined, changes.lastName ?? null]
  ).catch((err: unknown) => { throw asTakenError(err) })
  return rows[0]
}

/**
 * Gives the user with this e-mail (matched like the unique index, ignoring
 * case) the admin role. Returns the role they had before, or undefined when
 * there is no such user. Only the operator's CLI calls this; no route does.
 */
export async function promoteToAdmin(db: Queryable, email: string): Promise<{ email: string; previousRole: string } | undefined> {
  const { rows } = await db.query<{ email: string; previousRole: string }>(
    `WITH target AS (SELECT id, role FROM users WHERE lower(email) = lower($1))
     UPDATE users u SET role = 'admin', updated_at = now() FROM target WHERE u.id = target.id
     RETURNING u.email, target.role AS "previousRole"`, [email])
  return rows[0]
}
