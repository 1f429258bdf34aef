-- Up Migration
-- Transactional outbox: a message is inserted in the same transaction as the
-- change it announces, and the api's relay publishes it to RabbitMQ afterwards.
-- message_id becomes the AMQP messageId, so consumers can dedupe a message the
-- relay had to publish twice (confirmed, then crashed before marking it).
CREATE TABLE outbox (
  id              bigserial PRIMARY KEY,
  message_id      uuid NOT NULL UNIQUE,
  type            text NOT NULL,
  routing_key     text NOT NULL,
  payload         jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz,
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  -- a row that failed to publish waits until then (growing backoff)
  next_attempt_at timestamptz NOT NULL DEFAULT now()
);
-- The relay only ever looks at unsent rows; keep that scan tiny however big the table gets.
CREATE INDEX outbox_unpublished ON outbox (next_attempt_at, id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wakes every relay listening on channel 'outbox' when an insert commits
-- (NOTIFY is delivered at commit, never for a rolled-back insert).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Down Migration
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
