"""The dashboard through the template entry (as of-watchdog and the local runtime run it): /static/ paths
reach the handler (Flask's own /static route is off), with gzip and revalidation intact over HTTP."""

from __future__ import annotations

import gzip
from pathlib import Path

from tests.support.function import served
from tests.support.http import call
from tests.support.runtime import REPO

FUNCTION = REPO / "functions" / "dashboard"


def test_static_paths_reach_the_handler_through_the_template(tmp_path: Path) -> None:
    with served(FUNCTION, "dashboard", tmp_path / "dashboard.log") as url:
        module = call("GET", f"{url}/static/js/main.js", headers={"Accept-Encoding": "gzip"})
        headers = {k.lower(): v for k, v in module.headers.items()}
        assert module.status == 200
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        assert gzip.decompress(module.body) == (FUNCTION / "static/js/main.js").read_bytes()
        again = call("GET", f"{url}/static/js/main.js", headers={"If-None-Match": headers["etag"]})
        assert again.status == 304
        assert call("GET", f"{url}/static/../handler.py").status == 404
        assert call("GET", f"{url}/static/%2e%2e/handler.py").status == 404
        index = call("GET", f"{url}/")
        assert index.status == 200 and b"static/js/main.js" in index.body
