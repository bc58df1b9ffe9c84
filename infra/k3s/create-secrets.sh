#!/usr/bin/env bash
# Creates every secret HA Ingestor uses on k3s, from one file per secret in $SECRETS_DIR (default .secrets,
# the local runtime's folder). Values that are missing are generated once and kept there (mode 600).
#   - functions' secrets (stack.yml's `secrets:`): faas-cli secret create/update, into openfaas-fn
#     (faas-cli must be logged in to the gateway)
#   - services' secrets (the manifests' secretKeyRef / secret volumes): kubectl, into openfaas, one key each
# OpenFaaS's own `basic-auth` secret (the topic connector mounts it) comes from its chart (generateBasicAuth).
# Run from the repository root:  infra/k3s/create-secrets.sh
# DRY_RUN=1 prints the faas-cli and kubectl commands instead of running them (values are never printed).
set -euo pipefail

SECRETS_DIR=${SECRETS_DIR:-.secrets}
NAMESPACE=${NAMESPACE:-openfaas}
DRY_RUN=${DRY_RUN:-}

# name:how  (generate = made here when missing; required = you provide it; optional = only if present)
FUNCTION_SECRETS="connector-key:generate webhooks-api-key:generate s3-access-key:generate s3-secret-key:generate influxdb-token:generate
influxdb-password:optional openweathermap-api-key:optional basic-auth-user:optional basic-auth-password:optional"
SERVICE_SECRETS="ha-token:required connector-key:generate influxdb-token:generate influxdb-admin-password:generate s3-access-key:generate
s3-secret-key:generate postgres-password:generate"

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

mkdir -p "$SECRETS_DIR" && chmod 700 "$SECRETS_DIR"
for entry in $FUNCTION_SECRETS; do
  name=${entry%%:*}
  ensure "$name" "${entry#*:}" || continue
  run faas-cli secret create "$name" --from-file "$SECRETS_DIR/$name" \
    || run faas-cli secret update "$name" --from-file "$SECRETS_DIR/$name"
done

for entry in $SERVICE_SECRETS; do
  name=${entry%%:*}
  ensure "$name" "${entry#*:}" || continue
  if [ -n "$DRY_RUN" ]; then
    echo "+ kubectl -n $NAMESPACE create secret generic $name --from-file=$name=$SECRETS_DIR/$name (applied)"
  else
    kubectl -n "$NAMESPACE" create secret generic "$name" --from-file="$name=$SECRETS_DIR/$name" \
      --dry-run=client -o yaml | kubectl apply -f -
  fi
done
echo "done"
