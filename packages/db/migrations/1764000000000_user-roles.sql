-- Up Migration
-- Who may do what: every account is a `user`; `admin` is given by an operator
-- (`npm run admin -- promote <email>`), never through the HTTP API.
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'user'
  CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'));

-- Down Migration
ALTER TABLE users DROP COLUMN role;
