-- Up Migration
-- One row per mail message the mailer has taken on (message_id = the AMQP
-- messageId), so a redelivered or re-published message never sends twice.
-- A row with sent_at NULL is a claim: claimed_by/claimed_at say which mailer
-- is sending it right now; a claim older than the mailer's lease is treated
-- as abandoned (that mailer died mid-send) and may be taken over.
CREATE TABLE mail_deliveries (
  message_id    text PRIMARY KEY,
  message_type  text NOT NULL,
  recipient     text NOT NULL,
  claimed_by    text,
  claimed_at    timestamptz,
  attempts      integer NOT NULL DEFAULT 1,
  sent_at       timestamptz,
  smtp_response text,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- Lets an operator prune old records (the dedupe window only needs to cover
-- how long a message can still be redelivered: the retry schedule, minutes).
CREATE INDEX mail_deliveries_sent_at ON mail_deliveries (sent_at);

-- Down Migration
DROP TABLE mail_deliveries;
