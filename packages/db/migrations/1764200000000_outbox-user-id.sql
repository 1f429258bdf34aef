-- Up Migration
-- The user a message belongs to (the new user of a welcome mail, the owner of an
-- image): the relay sends it as the AMQP header x-user-id, so the consumer can
-- attribute its events to that user without the payload (whose contract is closed) knowing it.
ALTER TABLE outbox ADD COLUMN user_id uuid;

-- Down Migration
ALTER TABLE outbox DROP COLUMN user_id;
