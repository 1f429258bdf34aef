-- Up Migration
-- Uploaded images (avatars). The bytes live in object storage (local folder
-- or S3 bucket) under keys made from the id; this table says what exists,
-- whose it is, and what still has to be cleaned up.
--
-- Life of a row: 'uploading' (row first, so a crash mid-upload leaves a row the
-- sweeper can find, never an unknown file) -> 'stored' (bytes complete). When a
-- newer avatar replaces it, replaced_at is set; after a grace period the worker's
-- sweeper deletes its objects and sets deleted_at. Nothing is orphaned forever:
-- every object key derives from a row, and every row ends deleted.
CREATE TABLE images (
  id               uuid PRIMARY KEY,
  owner_id         uuid NOT NULL REFERENCES users (id),
  state            text NOT NULL DEFAULT 'uploading' CHECK (state IN ('uploading', 'stored')),
  content_type     text NOT NULL,
  width            integer,
  height           integer,
  bytes            bigint,
  -- strong validator of the stored original (SHA-256 of its bytes, base64url)
  etag             text,
  thumbnails_state text NOT NULL DEFAULT 'pending' CHECK (thumbnails_state IN ('pending', 'ready')),
  -- {"128": {"bytes": n, "etag": "..."}, "512": {...}} once ready
  thumbnails       jsonb NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  replaced_at      timestamptz,
  deleted_at       timestamptz,
  CHECK (state = 'uploading' OR (width IS NOT NULL AND height IS NOT NULL AND bytes IS NOT NULL AND etag IS NOT NULL))
);

-- At most one current avatar per user; the upload transaction locks the user
-- row, replaces the current one, then promotes the new one.
CREATE UNIQUE INDEX images_current_avatar ON images (owner_id)
  WHERE state = 'stored' AND replaced_at IS NULL AND deleted_at IS NULL;

-- The sweeper's scan: replaced images and abandoned uploads not yet deleted.
CREATE INDEX images_sweep ON images (coalesce(replaced_at, created_at))
  WHERE deleted_at IS NULL AND (replaced_at IS NOT NULL OR state = 'uploading');

-- Down Migration
DROP TABLE images;
