"""HA Ingestor's shared domain package, imported by every function, the bridge and the local runtime."""
