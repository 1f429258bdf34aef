-- Up Migration
-- API keys for machine clients (the key-value store). Keys are 256 random bits,
-- so a plain SHA-256 of the key is enough to make a leaked table useless (no
-- salt or slow hash needed, unlike passwords); the key itself is shown once by
-- `npm run admin -- api-key create` and never stored. `hint` is the first few
-- characters after the prefix, so `api-key list` can say which key is which.
CREATE TABLE api_keys (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  hint         text NOT NULL,
  scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);

-- Down Migration
DROP TABLE api_keys;
