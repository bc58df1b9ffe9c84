"""User webhooks: registration (the `webhooks` admin API) and signed delivery (`webhook-dispatch`).

Modules, one job each: settings (env knobs), schema (tables, Migration 2 of the metadata DB), store
(repository), validation (request bodies), filters (which events reach which webhook), ssrf (which
targets may be called), signing (the receiver-verifiable signature), delivery (one HTTP attempt),
dispatch (record, send, retry, pause). docs/webhooks.md is the receiver's guide.
"""
