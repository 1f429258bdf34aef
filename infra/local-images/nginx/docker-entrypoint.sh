#!/bin/sh
# The official nginx image's start-up contract, for the parts images built on it rely on:
#  1. executable /docker-entrypoint.d/*.sh run in order (*.envsh are sourced);
#  2. /etc/nginx/templates/*.template -> /etc/nginx/conf.d/*, substituting only the
#     environment variables whose names match NGINX_ENVSUBST_FILTER (all when unset);
#  3. exec the command (nginx -g 'daemon off;').
set -eu
if [ "${1:-}" = nginx ] || [ "${1:-}" = nginx-debug ]; then
  for script in $(find /docker-entrypoint.d -mindepth 1 -maxdepth 1 -type f | sort); do
    case "$script" in
      *.envsh) if [ -x "$script" ]; then echo "$0: sourcing $script"; . "$script"; fi ;;
      *.sh) if [ -x "$script" ]; then echo "$0: running $script"; "$script"; else echo "$0: ignoring $script, not executable"; fi ;;
    esac
  done

  template_dir="${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}"
  output_dir="${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}"
  suffix="${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}"
  filter="${NGINX_ENVSUBST_FILTER:-}"
  if [ -d "$template_dir" ]; then
    defined=$(printf '${%s} ' $(awk "END { for (name in ENVIRON) { print (name ~ /${filter}/) ? name : \"\" } }" </dev/null))
    for template in $(find "$template_dir" -follow -type f -name "*$suffix" | sort); do
      relative="${template#"$template_dir/"}"
      output="$output_dir/${relative%"$suffix"}"
      mkdir -p "$(dirname "$output")"
      echo "$0: envsubst $template -> $output"
      envsubst "$defined" < "$template" > "$output"
    done
  fi
  echo "$0: ready for start up"
fi
exec "$@"
