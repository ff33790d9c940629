#!/usr/bin/env bash
# Builds, unit-tests and packages the VS Code extension, then checks what the .vsix holds.
# Needs only Node 20 and npm (and the npm registry, for `npm ci`). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

VSIX=numpyro-lint.vsix

fail() {
    echo "build-and-test: $*" >&2
    exit 1
}

echo "== npm ci"
# No install scripts: esbuild runs from its platform package without them, and the others (keytar,
# vsce-sign) only matter for publishing, and would try to download binaries from outside the registry.
npm ci --ignore-scripts --no-audit --no-fund
rm -rf out build "$VSIX"

echo "== compile and unit tests"
npm test

echo "== package"
npm run package
[ -f "$VSIX" ] || fail "$VSIX was not created"

echo "== check the package contents"
listed=$(npx vsce ls --no-dependencies)
echo "$listed"
grep -qx 'out/extension.js' <<<"$listed" || fail "vsce ls does not list out/extension.js"
if grep -q 'node_modules/' <<<"$listed"; then
    fail "vsce ls lists node_modules"
fi

entries=$(node scripts/vsix-entries.js "$VSIX")
grep -qx 'extension/out/extension.js' <<<"$entries" || fail "$VSIX does not contain extension/out/extension.js"
grep -qx 'extension/package.json' <<<"$entries" || fail "$VSIX does not contain extension/package.json"
if grep -q 'node_modules/' <<<"$entries"; then
    fail "$VSIX contains node_modules"
fi
node scripts/check-bundle-loads.js out/extension.js

echo "build-and-test: OK, $(wc -c <"$VSIX") bytes in $VSIX"
