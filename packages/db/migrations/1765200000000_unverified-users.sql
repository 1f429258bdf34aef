-- Up Migration
-- The api's sweep of accounts never verified (UNVERIFIED_ACCOUNT_DAYS) finds
-- the oldest unverified users through this index instead of reading the table.
CREATE INDEX users_unverified_created ON users (created_at) WHERE email_verified_at IS NULL;

-- Down Migration
DROP INDEX users_unverified_created;
