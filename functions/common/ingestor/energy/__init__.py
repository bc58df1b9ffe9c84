"""Energy analytics over the store's hourly rollups: meters read as HA reads them, correlation, device impact,
recommendations (docs/energy.md)."""
