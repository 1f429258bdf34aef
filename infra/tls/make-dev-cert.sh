#!/bin/sh
# Makes a self-signed development certificate for nginx (and the api's own TLS_CERT/TLS_KEY).
# Valid for localhost, 127.0.0.1 and ::1. Never use it outside development.
#
#   infra/tls/make-dev-cert.sh [output-dir]     (default: the directory of this script)
#
# Writes cert.pem and key.pem (mode 600); an existing pair is kept, so re-running is safe.
set -eu

out_dir=${1:-$(dirname "$0")}
days=${DEV_CERT_DAYS:-825}
mkdir -p "$out_dir"

if [ -s "$out_dir/cert.pem" ] && [ -s "$out_dir/key.pem" ]; then
  echo "dev certificate already present in $out_dir"
  exit 0
fi

if ! command -v openssl >/dev/null 2>&1; then
  echo "make-dev-cert: openssl is required (apt-get install openssl)" >&2
  exit 1
fi

umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
  -subj "/CN=localhost/O=socialnet development" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "keyUsage=digitalSignature,keyEncipherment" \
  -addext "extendedKeyUsage=serverAuth" \
  -keyout "$out_dir/key.pem" -out "$out_dir/cert.pem" 2>/dev/null
# nginx in the official image reads the key as root before dropping privileges,
# the api reads it as its own user: readable by the owner only is enough.
chmod 600 "$out_dir/key.pem"
chmod 644 "$out_dir/cert.pem"
echo "dev certificate written to $out_dir (cert.pem, key.pem; SAN localhost, 127.0.0.1, ::1)"
