-- Up Migration
-- What `log` jobs write (the async job API). One row per job id: the worker
-- inserts with ON CONFLICT DO NOTHING, so a redelivered message is harmless.
CREATE TABLE job_log (
  job_id      uuid PRIMARY KEY,
  data        jsonb NOT NULL,
  client_time timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE job_log;
