#!/usr/bin/env bash
# Vendor Swagger UI's browser bundle from the npm package swagger-ui-dist into
# kit_http/static/swagger-ui/, so that /docs works with no CDN and no network.
# Usage: scripts/vendor-swagger-ui.sh [VERSION]   (run from plugins/kit-http)
set -euo pipefail
version=${1:-5.35.0}
out=kit_http/static/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
rm -rf "$out" && mkdir -p "$out"
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "$work/package/$f" "$out/$f"
done
echo "$version" > "$out/VERSION"
echo "vendored swagger-ui-dist $version into $out"
