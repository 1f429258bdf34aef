#!/bin/sh
# One-shot (minio/mc image): creates the images bucket and a service account that may
# use that bucket only, for the api and worker (S3_ACCESS_KEY / S3_SECRET_KEY).
# Idempotent: safe on every `docker compose up`.
set -eu
mc alias set local http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET"
cat > /tmp/socialnet-bucket.json <<POLICY
{
  "Version": "2012-10-17",
  "Statement": [
    { "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": ["arn:aws:s3:::$S3_BUCKET"] },
    { "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"], "Resource": ["arn:aws:s3:::$S3_BUCKET/*"] }
  ]
}
POLICY
mc admin policy create local socialnet-images /tmp/socialnet-bucket.json
mc admin user add local "$S3_ACCESS_KEY" "$S3_SECRET_KEY"
mc admin policy attach local socialnet-images --user "$S3_ACCESS_KEY" 2>/dev/null || true
echo "bucket $S3_BUCKET ready for $S3_ACCESS_KEY"
