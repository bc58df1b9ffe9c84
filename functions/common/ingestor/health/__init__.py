"""The system's health: every component's status, the pipeline's lag and dead letters, the configuration.

Probes per component kind (probes), the status rules (rules), the JetStream view (jetstream, deadletters),
metrics scraping (promtext), the configuration view (configview), assembled once per process by `system`.
"""
