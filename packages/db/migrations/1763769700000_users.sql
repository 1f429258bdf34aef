-- Up Migration
-- Accounts. Email and nickname are unique case-insensitively through indexes on
-- lower(): the insert itself is the check, so two concurrent registrations of
-- the same name cannot both win (the loser gets a unique violation -> 409).
-- Values are stored as typed, so a user sees their nickname spelled their way.
CREATE TABLE users (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email             text NOT NULL,
  nickname          text NOT NULL,
  password_hash     text NOT NULL,
  first_name        text,
  last_name         text,
  email_verified_at timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_nickname_key ON users (lower(nickname));

-- E-mail verification tokens. Only a SHA-256 of the token is kept, so a leaked
-- table cannot be used to verify someone else's address.
CREATE TABLE email_verifications (
  token_hash bytea PRIMARY KEY,
  user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_verifications_user ON email_verifications (user_id);

-- Down Migration
DROP TABLE email_verifications;
DROP TABLE users;
