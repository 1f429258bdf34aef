import type { Pool, PoolClient } from 'pg'
import { EmailTakenError, NicknameTakenError, NicknameTooSimilarError } from '../errors'
import { foldLogin } from './login-fold'
import { nicknameSkeleton } from './nickname-skeleton'

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
  /** `user` or `admin` (`npm run admin -- promote <email>`). */
  role: string
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
    ${t}.updated_at AS "updatedAt", ${t}.role`
}

/** The unique indexes on users (migrations 1763769700000, 1764000001000) and the error each one means. */
const UNIQUE_VIOLATIONS: Record<string, () => Error> = {
  users_email_key: () => new EmailTakenError(),
  users_nickname_key: () => new NicknameTakenError(),
  users_nickname_skeleton_key: () => new NicknameTooSimilarError()
}

/** A unique violation on e-mail or nickname as its 409; anything else unchanged. */
function asTakenError(err: unknown): unknown {
  const { code, constraint } = err as { code?: string; constraint?: string }
  const taken = code === '23505' && constraint ? UNIQUE_VIOLATIONS[constraint] : undefined
  return taken ? taken() : err
}

/**
 * Throws the 409 a registration of `email` and `nickname` would meet, if any:
 * a cheap SELECT before the argon2 hash, so a flood of duplicate registrations
 * costs no hashing. The unique indexes stay the race-safe check at insert.
 */
export async function assertEmailAndNicknameFree(db: Queryable, email: string, nickname: string): Promise<void> {
  const { rows } = await db.query<{ emailTaken: boolean; nicknameTaken: boolean }>(
    `SELECT lower(email) = $1 AS "emailTaken", lower(nickname) = $2 AS "nicknameTaken"
     FROM users WHERE lower(email) = $1 OR lower(nickname) = $2 OR nickname_skeleton = $3`,
    [foldLogin(email), foldLogin(nickname), nicknameSkeleton(nickname)]
  )
  if (rows.some((r) => r.emailTaken)) throw new EmailTakenError()
  if (rows.some((r) => r.nicknameTaken)) throw new NicknameTakenError()
  if (rows.length > 0) throw new NicknameTooSimilarError()
}

/**
 * Inserts a user. The unique indexes on lower(email), lower(nickname) and the
 * nickname's skeleton are the final check (two concurrent registrations both
 * pass any pre-check): a unique violation is translated to its 409.
 */
export async function insertUser(db: Queryable, user: NewUser): Promise<User> {
  try {
    const { rows } = await db.query<User>(
      `INSERT INTO users (email, nickname, nickname_skeleton, password_hash, first_name, last_name)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${userColumns()}`,
      [user.email, user.nickname, nicknameSkeleton(user.nickname), user.passwordHash, user.firstName ?? null, user.lastName ?? null]
    )
    return rows[0]!
  } catch (err) {
    throw asTakenError(err)
  }
}

/**
 * Fills the skeleton of nicknames stored before there was one. Idempotent and
 * safe beside other replicas doing the same; a nickname whose look-alike
 * already has the skeleton keeps NULL (both stay, new look-alikes of either
 * are still refused through the other) and is returned for a log line.
 */
export async function backfillNicknameSkeletons(db: Queryable): Promise<{ filled: number; lookAlikes: string[] }> {
  const { rows } = await db.query<{ id: string; nickname: string }>('SELECT id, nickname FROM users WHERE nickname_skeleton IS NULL')
  const lookAlikes: string[] = []
  let filled = 0
  for (const { id, nickname } of rows) {
    try {
      await db.query('UPDATE users SET nickname_skeleton = $2 WHERE id = $1 AND nickname_skeleton IS NULL', [id, nicknameSkeleton(nickname)])
      filled++
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err
      lookAlikes.push(nickname)
    }
  }
  return { filled, lookAlikes }
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
 * The user whose e-mail or nickname is `login`, case-insensitively: the login
 * is folded by foldLogin (the fold the login limiter uses), the stored side by
 * the unique indexes' expressions, so both lookups use them. A nickname cannot
 * contain '@', so one login never matches two users.
 */
export async function findUserByLogin(db: Queryable, login: string): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `SELECT ${userColumns()} FROM users WHERE lower(email) = $1 OR lower(nickname) = $1`,
    [foldLogin(login)]
  )
  return rows[0]
}

/** The fields an owner may change with PATCH /v1/users/{id}; null clears a name. */
export interface ProfileChanges {
  nickname?: string
  firstName?: string | null
  lastName?: string | null
}

/** Applies `changes` to a user; a taken or look-alike nickname is a 409 like at registration. */
export async function updateUser(db: Queryable, id: string, changes: ProfileChanges): Promise<User | undefined> {
  const { rows } = await db.query<User>(
    `UPDATE users SET
       nickname = CASE WHEN $2::boolean THEN $3 ELSE nickname END,
       nickname_skeleton = CASE WHEN $2::boolean THEN $8 ELSE nickname_skeleton END,
       first_name = CASE WHEN $4::boolean THEN $5 ELSE first_name END,
       last_name = CASE WHEN $6::boolean THEN $7 ELSE last_name END,
       updated_at = now()
     WHERE id = $1 RETURNING ${userColumns()}`,
    [id, changes.nickname !== undefined, changes.nickname ?? null, changes.firstName !== undefined, changes.firstName ?? null,
      changes.lastName !== undefined, changes.lastName ?? null,
      changes.nickname !== undefined ? nicknameSkeleton(changes.nickname) : null]
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

/**
 * Hands the stored avatars of accounts unverified for more than `days` to the
 * worker's image sweeper (marked replaced: it deletes their objects, then
 * marks the rows deleted), so deleteExpiredUnverified can take the accounts
 * on a later run. Returns how many images were handed over.
 */
export async function releaseImagesOfExpiredUnverified(db: Queryable, days: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE images SET replaced_at = now(), updated_at = now()
     WHERE state = 'stored' AND replaced_at IS NULL AND deleted_at IS NULL
       AND owner_id IN (SELECT id FROM users WHERE email_verified_at IS NULL AND created_at < now() - make_interval(days => $1))`,
    [days])
  return rowCount ?? 0
}

/**
 * Deletes up to `limit` accounts whose address is still unverified `days`
 * after registration, freeing their nickname and address; returns how many.
 * Safe beside other replicas running it (rows another one holds are skipped)
 * and beside a verification in flight (the row lock decides who goes first).
 * Verification tokens and job logs go with the user (ON DELETE CASCADE);
 * images must already be deleted from storage (releaseImagesOfExpiredUnverified):
 * an account with a live image waits, and its deleted image rows go with it.
 * Outbox and delivery-log rows keep the id without a foreign key.
 */
export async function deleteExpiredUnverified(db: Queryable, days: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `WITH expired AS (
       SELECT id FROM users u
       WHERE email_verified_at IS NULL AND created_at < now() - make_interval(days => $1)
         AND NOT EXISTS (SELECT 1 FROM images i WHERE i.owner_id = u.id AND i.deleted_at IS NULL)
       ORDER BY created_at LIMIT $2
       FOR UPDATE SKIP LOCKED
     ), swept_images AS (
       DELETE FROM images WHERE owner_id IN (SELECT id FROM expired)
     )
     DELETE FROM users WHERE id IN (SELECT id FROM expired)`,
    [days, limit])
  return rowCount ?? 0
}
