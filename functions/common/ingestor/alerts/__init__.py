"""Alerts: rules evaluated on the health function's cron tick; each alert has a start, an end, a severity and its
evidence, is kept in the metadata DB and is sent to webhooks when it starts and when it ends (docs/alerts.md)."""
