#!/usr/bin/env bash
# `make tools`: the Go-built servers the tests run (tools/go/<name>: a go.mod pinning one module by path and
# version, and a go.sum), installed into $TOOLS_BIN. A binary whose go.mod and go.sum have not changed since
# it was built is kept (a second run builds nothing); downloads are retried, since a proxy can be flaky,
# and a failure names the module. Prints one line per tool: name, result, seconds, binary size.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_BIN="${TOOLS_BIN:-$ROOT/.tools/bin}"
TOOLS_CACHE="${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ha-ingestor-go}"
export GOBIN="$TOOLS_BIN" GOPATH="$TOOLS_CACHE/gopath" GOMODCACHE="$TOOLS_CACHE/mod" GOCACHE="$TOOLS_CACHE/build"
export GOFLAGS="-modcacherw -mod=readonly" GOTOOLCHAIN=local CGO_ENABLED=0
ATTEMPTS="${TOOLS_ATTEMPTS:-3}"

command -v go >/dev/null || { echo "make tools: no Go toolchain (go) on PATH; the tests that need these tools skip"; exit 1; }
mkdir -p "$TOOLS_BIN" "$TOOLS_CACHE/logs"

module_of() {  # the one module a tools/go/<name>/tools.go imports
  sed -n 's/^import _ "\(.*\)"$/\1/p' "$1/tools.go"
}

failed=()
for dir in "$ROOT"/tools/go/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  module="$(module_of "$dir")"
  version="$(awk -v m="$module" '$1 == m { print $2 }' "$dir/go.mod")"
  stamp="$TOOLS_BIN/.$name.stamp"
  want="$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -d' ' -f1)"
  if [ -x "$TOOLS_BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$name: up to date ($module@$version)"
    continue
  fi
  started=$SECONDS
  ok=
  for attempt in $(seq 1 "$ATTEMPTS"); do
    if (cd "$dir" && go mod download -x 2>"$TOOLS_CACHE/logs/$name.log" >/dev/null); then ok=1; break; fi
    echo "$name: downloading $module@$version failed (attempt $attempt of $ATTEMPTS): $(tail -1 "$TOOLS_CACHE/logs/$name.log")" >&2
    sleep $((attempt * 5))
  done
  if [ -z "$ok" ]; then failed+=("$module@$version (download)"); continue; fi
  # the module's own main package, built as `go install <module>@<version>` would, into $GOBIN under its own name
  if ! (cd "$dir" && go build -trimpath -o "$TOOLS_BIN/$name" "$module" 2>"$TOOLS_CACHE/logs/$name.log"); then
    echo "$name: building $module@$version failed:" >&2
    tail -20 "$TOOLS_CACHE/logs/$name.log" >&2
    failed+=("$module@$version (build)")
    continue
  fi
  echo "$want" > "$stamp"
  echo "$name: built $module@$version in $((SECONDS - started)) s, $(du -h "$TOOLS_BIN/$name" | cut -f1)"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "make tools: could not build: ${failed[*]}" >&2
  exit 1
fi
