"""A folder of static files served as a single-page web app: ETag revalidation, gzip, a strict CSP for index.html.

Only regular files under the folder are served: `..`, hidden files, directories and symlinks leading out
answer 404, never a listing or a 500. Assets are read once and kept while their file is unchanged.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestor.responses import error_response

TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8", ".map": "application/json",
}
COMPRESSIBLE = (".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map")
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
MAX_SEGMENT, MAX_PATH = 255, 1024  # NAME_MAX and a generous bound on an app's own paths


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str
    content_type: str
    stamp: tuple[float, int]
    gzipped: bytes | None = None


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


@dataclass
class StaticSite:
    """`root`/index.html at / (and /index.html), every other file at /static/<path>."""

    root: Path
    required: tuple[str, ...] = ()
    """Files the app cannot work without: health is unhealthy while one is missing."""
    _cache: dict[Path, Asset] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def resolve(self, relative: str) -> Path | None:
        """The file under root that `relative` names, or None for anything else (traversal, dotfiles, dirs,
        names longer than a file system takes)."""
        parts = relative.split("/")
        if not relative or len(relative) > MAX_PATH or any(len(p) > MAX_SEGMENT or not SAFE_SEGMENT.fullmatch(p)
                                                           for p in parts):
            return None
        try:
            candidate = (self.root / relative).resolve()
            if not candidate.is_relative_to(self.root) or not candidate.is_file():
                return None
        except OSError:  # e.g. a symlink loop
            return None
        return candidate

    def load(self, path: Path) -> Asset:
        stat = path.stat()
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            known = self._cache.get(path)
            if known is not None and known.stamp == stamp:
                return known
        body = path.read_bytes()
        suffix = path.suffix.lower()
        gzipped = gzip.compress(body, 6, mtime=0) if suffix in COMPRESSIBLE and len(body) > 1024 else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        asset = Asset(body, etag, TYPES.get(suffix, "application/octet-stream"), stamp, gzipped)
        with self._lock:
            self._cache[path] = asset
        return asset

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        path = event.path or "/"
        if event.method not in ("GET", "HEAD"):
            response = error_response(405, "method_not_allowed", f"{event.method} {path}: use GET")
            response["headers"]["Allow"] = "GET, HEAD"
            return response
        if path in ("/", "/index.html"):
            return serve(self.load(self.root / "index.html"), event.headers, True)
        if path.startswith("/static/"):
            target = self.resolve(path[len("/static/"):])
            if target is not None:
                try:
                    return serve(self.load(target), event.headers, False)
                except OSError:  # removed or unreadable since it was resolved
                    pass
        return error_response(404, "not_found", f"no file {path[:200]!r}")

    def health(self) -> dict[str, Any]:
        ok = all((self.root / name).is_file() for name in ("index.html", *self.required))
        return {"status": "ok" if ok else "unhealthy", "static": str(self.root)}
