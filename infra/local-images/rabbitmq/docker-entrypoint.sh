#!/bin/sh
# Runs the broker as `rabbitmq` in the foreground (signals reach it directly); the data
# volume may have been created by another image, so its owner is set first.
set -eu
if [ "${1:-}" != rabbitmq-server ]; then exec "$@"; fi
chown -R rabbitmq:rabbitmq /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups /usr/lib/rabbitmq/bin/rabbitmq-server
