"""dashboard: serves the web app (a static single-page app) that reads the query, health and webhooks APIs.

GET /               index.html (also /index.html)
GET /static/<path>  the app's modules, CSS and the vendored ECharts, with ETag revalidation and gzip

Only regular files under static/ are served: `..`, hidden files, directories and symlinks leading out
answer 404, never a listing. The app uses relative URLs, so it works at /function/dashboard/ on any gateway.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestor.responses import error_response

ROOT = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8", ".map": "application/json",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map")
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
MAX_SEGMENT, MAX_PATH = 255, 1024  # NAME_MAX and a generous bound on the app's own paths


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    content_type: str
    stamp: tuple[float, int]
    gzipped: bytes | None = None


_cache: dict[Path, Asset] = {}
_lock = threading.Lock()


def _not_found(path: str) -> dict[str, Any]:
    return error_response(404, "not_found", f"no file {path!r}")


def resolve(relative: str) -> Path | None:
    """The file under ROOT that `relative` names, or None for anything else (traversal, dotfiles, dirs,
    names longer than a file system takes)."""
    parts = relative.split("/")
    if not relative or len(relative) > MAX_PATH or any(len(p) > MAX_SEGMENT or not SAFE_SEGMENT.fullmatch(p)
                                                       for p in parts):
        return None
    try:
        candidate = (ROOT / relative).resolve()
        if not candidate.is_relative_to(ROOT) or not candidate.is_file():
            return None
    except OSError:  # e.g. a symlink loop
        return None
    return candidate


def _load(path: Path) -> Asset:
    stat = path.stat()
    stamp = (stat.st_mtime, stat.st_size)
    with _lock:
        known = _cache.get(path)
        if known is not None and known.stamp == stamp:
            return known
    body = path.read_bytes()
    suffix = path.suffix.lower()
    gzipped = gzip.compress(body, 6, mtime=0) if suffix in COMPRESSIBLE and len(body) > 1024 else None
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    asset = Asset(body, etag, TYPES.get(suffix, "application/octet-stream"), stamp, gzipped)
    with _lock:
        _cache[path] = asset
    return asset


def _csp(index: bytes) -> str:
    """Inline scripts of index.html (the trailing-slash fix) are allowed by hash, nothing else inline."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                      for s in INLINE_SCRIPT.findall(index))
    return ("default-src 'self'; script-src 'self' " + hashes + "; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'self'")


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags or etag[:-1] + '-gz"' in tags


def serve(asset: Asset, headers: Any, is_index: bool) -> dict[str, Any]:
    out = {"Content-Type": asset.content_type, "ETag": asset.etag, "Cache-Control": "no-cache",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Vary": "Accept-Encoding"}
    if is_index:
        out["Content-Security-Policy"] = _csp(asset.body)
    if _matches(headers.get("If-None-Match") or "", asset.etag):
        return {"statusCode": 304, "body": b"", "headers": out}
    if asset.gzipped is not None and "gzip" in (headers.get("Accept-Encoding") or "").lower():
        out["Content-Encoding"] = "gzip"
        out["ETag"] = asset.etag[:-1] + '-gz"'
        return {"statusCode": 200, "body": asset.gzipped, "headers": out}
    return {"statusCode": 200, "body": asset.body, "headers": out}


def handle(event: Any, context: Any) -> dict[str, Any]:
    path = event.path or "/"
    if event.method not in ("GET", "HEAD"):
        response = error_response(405, "method_not_allowed", f"{event.method} {path}: use GET")
        response["headers"]["Allow"] = "GET, HEAD"
        return response
    if path in ("/", "/index.html"):
        return serve(_load(ROOT / "index.html"), event.headers, True)
    if path.startswith("/static/"):
        target = resolve(path[len("/static/"):])
        if target is not None:
            try:
                return serve(_load(target), event.headers, False)
            except OSError:  # removed or unreadable since it was resolved
                pass
    return _not_found(path[:200])


def health() -> dict[str, Any]:
    ok = (ROOT / "index.html").is_file() and (ROOT / "vendor" / "echarts.min.js").is_file()
    return {"status": "ok" if ok else "unhealthy", "static": str(ROOT)}
