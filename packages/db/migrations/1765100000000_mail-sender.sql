-- Up Migration
-- What a responsible sender remembers about its recipients.

-- The suppression list: addresses we no longer mail. One row per address
-- (lower-cased as received; a +tag is part of the address here, because a
-- bounce speaks for that exact mailbox). The mailer checks it before every
-- send; the bounce receiver, the mailer (a 5xx at RCPT) and operators add to it.
CREATE TABLE mail_suppressions (
  address       text PRIMARY KEY,
  reason        text NOT NULL CHECK (reason IN ('hard_bounce', 'soft_bounce_limit', 'complaint', 'manual')),
  -- Who said so: 'dsn', 'arf', 'smtp' (a synchronous refusal), 'admin' or 'cli'.
  source        text NOT NULL,
  -- The last report's status or reply text, for the operator deciding to lift it.
  detail        text,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  count         integer NOT NULL DEFAULT 1
);
CREATE INDEX mail_suppressions_last_seen ON mail_suppressions (last_seen_at DESC, address);

-- Every bounce and complaint heard, so the soft-bounce policy can count them
-- over a window (3 in 7 days). Pruned with the delivery log.
CREATE TABLE mail_bounces (
  id          bigserial PRIMARY KEY,
  address     text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
  source      text NOT NULL,
  message_id  text,
  detail      text,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_bounces_address ON mail_bounces (address, received_at);

-- The delivery log: one row per attempt of every mail (and per bounce heard
-- later), for operators and the sender's own timeline. Pruned by age.
CREATE TABLE mail_attempts (
  id          bigserial PRIMARY KEY,
  message_id  text NOT NULL,
  recipient   text NOT NULL,
  user_id     uuid,
  at          timestamptz NOT NULL DEFAULT now(),
  outcome     text NOT NULL CHECK (outcome IN ('sent', 'deferred', 'bounced', 'suppressed', 'throttled')),
  smtp_code   integer,
  smtp_reply  text,
  replica     text NOT NULL,
  duration_ms integer
);
CREATE INDEX mail_attempts_message ON mail_attempts (message_id, id);
CREATE INDEX mail_attempts_recipient ON mail_attempts (recipient, id DESC);
CREATE INDEX mail_attempts_at ON mail_attempts (at);

-- Down Migration
DROP TABLE mail_attempts;
DROP TABLE mail_bounces;
DROP TABLE mail_suppressions;
