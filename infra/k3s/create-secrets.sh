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

NAMESPACE=${NAMESPACE:-openfaas}

# the lists of secrets and how each is made: infra/secrets.sh, shared with the other platform
source "$(dirname "$0")/../secrets.sh"

create_function_secrets

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
