#!/usr/bin/env bash
# Creates every secret HA Ingestor uses on faasd, from one file per secret in $SECRETS_DIR (default .secrets,
# the local runtime's folder). Values that are missing are generated once and kept there (mode 600).
#   - functions' secrets (stack.yml's `secrets:`): faas-cli secret create/update (faas-cli must be logged in)
#   - services' secrets (docker-compose.ha-ingestor.yaml's bind mounts): files in $FAASD_SECRETS
# Run on the faasd host as root, from the repository root:  sudo -E infra/faasd/create-secrets.sh
# DRY_RUN=1 prints the faas-cli commands instead of running them (values are never printed).
set -euo pipefail

FAASD_SECRETS=${FAASD_SECRETS:-/var/lib/faasd/secrets}

# the lists of secrets and how each is made: infra/secrets.sh, shared with the other platform
source "$(dirname "$0")/../secrets.sh"

create_function_secrets

mkdir -p "$FAASD_SECRETS"
for entry in $SERVICE_SECRETS; do
  name=${entry%%:*}
  ensure "$name" "${entry#*:}" || continue
  install -m 0644 "$SECRETS_DIR/$name" "$FAASD_SECRETS/$name"   # services run as non-root users
  echo "wrote $FAASD_SECRETS/$name"
done
echo "done: restart faasd (sudo systemctl restart faasd) so the services read them"
