-- Up Migration
-- `log` job data belongs to whoever submitted it: it goes with the account,
-- it counts against a per-user quota (the api reads job_log_usage before it
-- accepts a log job), and the worker deletes rows older than
-- JOB_LOG_RETENTION_DAYS. Rows written before this migration have no owner:
-- they count against nobody and expire like the rest.
ALTER TABLE job_log ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX job_log_owner_id_idx ON job_log (owner_id);
-- The retention sweep deletes by age.
CREATE INDEX job_log_created_at_idx ON job_log (created_at);

-- What each owner keeps, so the quota check is one row read instead of a sum
-- over every row the user has. Kept exact by the two statement triggers below
-- (job_log rows are only ever inserted and deleted, never updated); bytes are
-- the size of `data` as JSON text.
CREATE TABLE job_log_usage (
  owner_id   uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  row_count  bigint NOT NULL,
  byte_count bigint NOT NULL
);

CREATE FUNCTION job_log_usage_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_log_usage AS u (owner_id, row_count, byte_count)
  SELECT owner_id, count(*), sum(octet_length(data::text)) FROM added WHERE owner_id IS NOT NULL GROUP BY owner_id
  ON CONFLICT (owner_id) DO UPDATE SET row_count = u.row_count + excluded.row_count, byte_count = u.byte_count + excluded.byte_count;
  RETURN NULL;
END $$;

CREATE FUNCTION job_log_usage_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE job_log_usage u SET row_count = u.row_count - g.row_count, byte_count = u.byte_count - g.byte_count
  FROM (SELECT owner_id, count(*) AS row_count, sum(octet_length(data::text)) AS byte_count
        FROM removed WHERE owner_id IS NOT NULL GROUP BY owner_id) g
  WHERE u.owner_id = g.owner_id;
  RETURN NULL;
END $$;

-- Statement-level with transition tables: a redelivered insert that hits
-- ON CONFLICT DO NOTHING adds nothing, and a sweep of thousands of rows is one update.
CREATE TRIGGER job_log_usage_on_insert AFTER INSERT ON job_log
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION job_log_usage_added();
CREATE TRIGGER job_log_usage_on_delete AFTER DELETE ON job_log
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION job_log_usage_removed();

-- Down Migration
DROP TRIGGER job_log_usage_on_delete ON job_log;
DROP TRIGGER job_log_usage_on_insert ON job_log;
DROP FUNCTION job_log_usage_removed();
DROP FUNCTION job_log_usage_added();
DROP TABLE job_log_usage;
DROP INDEX job_log_created_at_idx;
ALTER TABLE job_log DROP COLUMN owner_id;
