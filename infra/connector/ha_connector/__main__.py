"""`python -m ha_connector`: the connectors alone beside an OpenFaaS gateway (ha_connector.service)."""

from ha_connector import service

service.main()
