#!/bin/sh
# Runs before the image's template step: without a certificate mounted at
# NGINX_TLS_CERT/NGINX_TLS_KEY, make a self-signed development one there.
set -eu
if [ ! -s "$NGINX_TLS_CERT" ] || [ ! -s "$NGINX_TLS_KEY" ]; then
  /usr/local/bin/make-dev-cert.sh "$(dirname "$NGINX_TLS_CERT")"
fi
