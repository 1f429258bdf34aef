-- Up Migration
-- Look-alike nicknames: `aIice` (capital I) next to `alice`. The api stores each
-- nickname's confusable skeleton (Unicode UTS #39, computed in the api, which
-- owns the one definition) and this index refuses a second nickname that looks
-- the same, race-safe like users_nickname_key. Rows from before this migration
-- start NULL (NULLs never conflict) and are filled in by the api at start.
ALTER TABLE users ADD COLUMN nickname_skeleton text;
CREATE UNIQUE INDEX users_nickname_skeleton_key ON users (nickname_skeleton);

-- Down Migration
DROP INDEX users_nickname_skeleton_key;
ALTER TABLE users DROP COLUMN nickname_skeleton;
