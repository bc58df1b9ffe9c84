# HA Ingestor's secrets, listed once: sourced by infra/faasd/create-secrets.sh and infra/k3s/create-secrets.sh, so a
# new secret reaches both platforms (tests/deploy checks stack.yml, the code and the manifests against these lists).
# Each entry is name:how  (generate = made here when missing; required = you provide it; optional = only if present).
# shellcheck shell=bash

# functions' secrets (stack.yml's `secrets:`), created with faas-cli
FUNCTION_SECRETS="connector-key:generate webhooks-api-key:generate alerts-api-key:generate s3-access-key:generate s3-secret-key:generate influxdb-token:generate
influxdb-password:optional openweathermap-api-key:optional basic-auth-user:optional basic-auth-password:optional"
# services' secrets (the bridge, the connector, NATS, InfluxDB, PostgreSQL, MinIO), as each platform mounts them
SERVICE_SECRETS="ha-token:required connector-key:generate influxdb-token:generate influxdb-admin-password:generate s3-access-key:generate
s3-secret-key:generate postgres-password:generate"

SECRETS_DIR=${SECRETS_DIR:-.secrets}
DRY_RUN=${DRY_RUN:-}

random_value() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }

# ensure NAME HOW: make sure $SECRETS_DIR/NAME exists (generating it when allowed); returns 1 to skip it.
ensure() {
  local name=$1 how=$2 file="$SECRETS_DIR/$1"
  if [ -s "$file" ]; then return 0; fi
  case $how in
    generate)
      if [ "$name" = s3-access-key ]; then echo -n "ha-ingestor" > "$file"; else random_value | tr -d '\n' > "$file"; fi
      chmod 600 "$file"; echo "generated $file" ;;
    required) echo "missing $file: put the value there (for ha-token: a long-lived access token from HA)" >&2; exit 1 ;;
    optional) return 1 ;;
  esac
}

run() { if [ -n "$DRY_RUN" ]; then echo "+ $*"; else "$@"; fi; }

# create_function_secrets: every function secret into OpenFaaS (faas-cli must be logged in to the gateway)
create_function_secrets() {
  mkdir -p "$SECRETS_DIR" && chmod 700 "$SECRETS_DIR"
  local entry name
  for entry in $FUNCTION_SECRETS; do
    name=${entry%%:*}
    ensure "$name" "${entry#*:}" || continue
    run faas-cli secret create "$name" --from-file "$SECRETS_DIR/$name" \
      || run faas-cli secret update "$name" --from-file "$SECRETS_DIR/$name"
  done
}
