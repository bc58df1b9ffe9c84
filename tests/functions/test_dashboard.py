"""dashboard's handler (ingestor.staticsite): what it serves, with which headers, and what it refuses. The app in a
browser: tests/dashboard."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.function import load_handler
from tests.support.runtime import REPO

FUNCTION = REPO / "functions" / "dashboard"


handler = load_handler("dashboard")


def get(path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    event = SimpleNamespace(path=path, method=method, headers=headers, query={}, body=b"")
    return handler.handle(event, None)


def test_root_serves_index_html_with_a_csp_that_allows_only_its_own_inline_script() -> None:
    reply = get("/")
    assert reply["statusCode"] == 200
    assert reply["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="static/js/main.js">' in reply["body"]
    csp = reply["headers"]["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp and "connect-src 'self'" in csp


@pytest.mark.parametrize(("path", "content_type"), [
    ("/static/js/main.js", "text/javascript; charset=utf-8"),
    ("/static/app.css", "text/css; charset=utf-8"),
    ("/static/icon.svg", "image/svg+xml"),
    ("/static/vendor/echarts.min.js", "text/javascript; charset=utf-8"),
    ("/static/vendor/LICENSE", "application/octet-stream"),
])
def test_static_files_are_served_with_their_content_type(path: str, content_type: str) -> None:
    reply = get(path)
    assert reply["statusCode"] == 200
    assert reply["headers"]["Content-Type"] == content_type
    assert reply["body"] == (FUNCTION / path.lstrip("/")).read_bytes()
    assert reply["headers"]["X-Content-Type-Options"] == "nosniff"


def test_a_matching_etag_answers_304_without_a_body() -> None:
    first = get("/static/js/main.js")
    etag = first["headers"]["ETag"]
    assert first["headers"]["Cache-Control"] == "no-cache"
    again = get("/static/js/main.js", **{"If-None-Match": etag})
    assert (again["statusCode"], again["body"], again["headers"]["ETag"]) == (304, b"", etag)
    other = get("/static/js/main.js", **{"If-None-Match": '"something-else"'})
    assert other["statusCode"] == 200


def test_gzip_is_sent_to_clients_that_accept_it_and_decompresses_to_the_file() -> None:
    reply = get("/static/vendor/echarts.min.js", **{"Accept-Encoding": "gzip, deflate, br"})
    assert reply["headers"]["Content-Encoding"] == "gzip"
    assert reply["headers"]["Vary"] == "Accept-Encoding"
    original = (FUNCTION / "static/vendor/echarts.min.js").read_bytes()
    assert gzip.decompress(reply["body"]) == original and len(reply["body"]) < len(original) / 2
    assert get("/static/vendor/echarts.min.js", **{"If-None-Match": reply["headers"]["ETag"]})["statusCode"] == 304


@pytest.mark.parametrize("path", [
    "/static/../handler.py", "/static/js/../../handler.py", "/static/%2e%2e/handler.py", "/static//etc/passwd",
    "/static/", "/static/js", "/static/js/", "/static/vendor", "/static/.hidden", "/static/js/nope.js", "/handler.py",
    "/static/vendor.sh", "/static/..", "/static/js/main.js/", "/static/js\\..\\..\\handler.py",
])
def test_traversal_directories_and_unknown_files_answer_404(path: str) -> None:
    reply = get(path)
    assert reply["statusCode"] == 404
    assert json.loads(reply["body"])["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", [
    "/static/" + "a" * 5000, "/static/js/" + "a" * 256 + ".js", "/static/" + "a/" * 3000 + "main.js",
    "/static/js/main.js\n", "/static/js/main.js\x00", "/static/js/main\x00.js", "/static/\udcff\udcfe",
    "/static/js/mäin.js", "/static/" + "é" * 300, "/static/js/main.js%00", "/static/ ", "/static/js/main.js ",
])
def test_hostile_paths_answer_404_never_500(path: str) -> None:
    reply = get(path)
    assert reply["statusCode"] == 404, reply
    assert json.loads(reply["body"])["error"]["code"] == "not_found"


def test_a_symlink_leading_out_of_static_is_refused(tmp_path: Path) -> None:
    link = FUNCTION / "static" / "js" / "escape-test.js"
    outside = tmp_path / "secret.js"
    outside.write_text("secret")
    link.symlink_to(outside)
    try:
        assert get("/static/js/escape-test.js")["statusCode"] == 404
    finally:
        link.unlink()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_methods_other_than_get_are_refused_with_405(method: str) -> None:
    reply = get("/", method=method)
    assert reply["statusCode"] == 405 and reply["headers"]["Allow"] == "GET, HEAD"


def test_head_answers_like_get() -> None:
    assert get("/static/app.css", method="HEAD")["statusCode"] == 200


def test_every_module_the_app_imports_exists() -> None:
    """A missing module would only show as a browser error; this catches it without a browser."""
    js = FUNCTION / "static" / "js"
    for module in js.rglob("*.js"):
        for target in re.findall(r'from "(\.[^"]+)"|import\("(\.[^"]+)"\)', module.read_text()):
            path = (module.parent / (target[0] or target[1])).resolve()
            assert path.is_file(), f"{module.name} imports missing {target}"


def test_health_reports_the_app_and_the_charting_library_present() -> None:
    assert handler.health()["status"] == "ok"
