"""HA Ingestor's topic connector (JetStream subjects -> function calls) and cron connector: a product part that
runs inside the local runtime and alone beside a real OpenFaaS gateway (`python -m ha_connector`)."""
