"""The read side: queries over the event store and the metadata DB, served by the `query` function.

One module per area (events, stats, history, trace, analytics, catalog); `routes` declares the HTTP
API over them, `schemas` the response shapes its OpenAPI document describes.
"""
