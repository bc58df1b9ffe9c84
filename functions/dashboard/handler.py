"""dashboard: serves the web app (a static single-page app) that reads the query, health and webhooks APIs.

GET /               index.html (also /index.html)
GET /static/<path>  the app's modules, CSS and the vendored ECharts, with ETag revalidation and gzip

The app uses relative URLs, so it works at /function/dashboard/ on any gateway (ingestor.staticsite).
"""

from __future__ import annotations

from pathlib import Path

from ingestor.staticsite import StaticSite

SITE = StaticSite(Path(__file__).resolve().parent / "static", required=("vendor/echarts.min.js",))
handle, health = SITE.handle, SITE.health
