"""The API keys that guard what changes data through the functions' HTTP APIs, each a secret named once here.

A route declared `needs_key` (ingestor.httpapi) answers only a caller that sends its API's key. The local
runtime generates every key listed in ALL on first run (.secrets/<name>, mode 0600); on OpenFaaS `make secrets`
creates them (infra/secrets.sh). A function deployed without its key refuses every call that changes data.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestor import config


@dataclass(frozen=True)
class ApiKey:
    secret: str  # the OpenFaaS secret (a file in SECRETS_DIR)
    env: str  # the environment variable read when the secret's file is absent

    def value(self) -> str | None:
        """The configured key, None when neither the secret nor the variable is set."""
        return config.secret(self.secret, self.env)


WEBHOOKS = ApiKey("webhooks-api-key", "WEBHOOKS_API_KEY")
ALERTS = ApiKey("alerts-api-key", "ALERTS_API_KEY")
ALL = (WEBHOOKS, ALERTS)
