#!/bin/sh
# Re-fetches the vendored Apache ECharts from the npm registry and checks it against the pinned sha256.
# Usage: ./vendor.sh                      verify and (re)install the pinned version
#        ./vendor.sh 5.6.1 <sha256>        move to another version (then update VERSION and the pin below)
set -eu
VERSION="${1:-5.6.0}"
SHA256="${2:-bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1}"
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="$HERE/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "echarts@$VERSION" >/dev/null
tar xzf "echarts-$VERSION.tgz" package/dist/echarts.min.js package/LICENSE package/NOTICE
GOT="$(sha256sum package/dist/echarts.min.js | cut -d' ' -f1)"
if [ "$GOT" != "$SHA256" ]; then
    echo "echarts $VERSION: sha256 $GOT does not match the pinned $SHA256; nothing changed" >&2
    exit 1
fi
mkdir -p "$DEST"
cp package/dist/echarts.min.js package/LICENSE package/NOTICE "$DEST/"
printf 'Apache ECharts %s (npm echarts@%s, dist/echarts.min.js), Apache-2.0 (LICENSE, NOTICE)\nsha256 %s  echarts.min.js\n' \
    "$VERSION" "$VERSION" "$SHA256" > "$DEST/VERSION"
echo "echarts $VERSION installed in $DEST (sha256 verified)"
