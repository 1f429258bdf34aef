-- Up Migration
-- A relay publishes a batch under a lease instead of row locks, so no
-- transaction stays open while the broker confirms. Claiming a row moves its
-- next_attempt_at to the end of the lease (other replicas skip it until then,
-- and the rows of a replica that died mid-batch become due again by
-- themselves) and records the same time here. This column is what tells a
-- lease from a failure's backoff: a broker reconnect makes backed-off rows due
-- at once, but must leave rows that are being published right now alone.
-- NULL when no relay holds the row.
ALTER TABLE outbox ADD COLUMN leased_until timestamptz;

-- Down Migration
ALTER TABLE outbox DROP COLUMN leased_until;
