-- Up Migration
-- The key-value store's transaction log (KV_LOG=postgres). Keys and values are
-- bytea so NUL and any other byte round-trip; the newest row for a key wins.
CREATE TABLE kv_log (
  seq        bigserial PRIMARY KEY,
  op         smallint NOT NULL CHECK (op IN (1, 2)),
  key        bytea NOT NULL,
  value      bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kv_log_key_seq ON kv_log (key, seq DESC);

-- Down Migration
DROP TABLE kv_log;
