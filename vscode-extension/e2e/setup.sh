#!/usr/bin/env bash
# Installs what the real-VS-Code test needs, offline but for the Debian and npm registries:
#   - Debian packages: chromium (the browser that shows the editor), ripgrep (code-server's search tool,
#     which it would otherwise download from GitHub), g++/make/libkrb5-dev (code-server's native modules).
#     Installed with apt-get when running as root, else the script says what to install and fails.
#   - code-server (VS Code in a browser) into $1/code-server, cached: reinstalled only when the version changes.
#   - playwright-core (drives Chromium over CDP; never downloads a browser) from e2e/package-lock.json.
# Usage: setup.sh <cache folder, e.g. build/e2e>
set -euo pipefail

CODE_SERVER_VERSION=4.100.3  # the newest code-server whose npm package accepts Node 20 (4.104+ need 22)
# The @vscode/ripgrep that code-server 4.100.3 depends on, and the release asset its postinstall fetches:
# it uses $TMPDIR/vscode-ripgrep-cache-<version>/<asset> instead when that file exists.
RIPGREP_PACKAGE_VERSION=1.15.11
RIPGREP_ASSET=ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz
DEBIAN_PACKAGES=(chromium ripgrep g++ make libkrb5-dev)

fail() {
    echo "e2e setup: $*" >&2
    exit 1
}

[ $# -eq 1 ] || fail "usage: setup.sh <cache folder>"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
cache=$(cd "$1" && pwd)

install_debian_packages() {
    local missing=()
    for package in "${DEBIAN_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        fail "missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}"
    fi
    echo "== apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_code_server() {
    local target=$cache/code-server stamp=$cache/code-server/.installed-$CODE_SERVER_VERSION
    if [ -f "$stamp" ]; then
        return
    fi
    [ "$(node -p 'process.versions.node.split(".")[0]')" = 20 ] ||
        fail "code-server $CODE_SERVER_VERSION needs Node 20, this is Node $(node --version)"
    echo "== npm install code-server@$CODE_SERVER_VERSION (about a minute)"
    local partial=$cache/code-server.partial tmp=$cache/tmp
    rm -rf "$partial" "$tmp"
    mkdir -p "$partial" "$tmp/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION" "$tmp/rg"
    cp "$(command -v rg)" "$tmp/rg/rg"
    tar czf "$tmp/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION/$RIPGREP_ASSET" -C "$tmp/rg" rg
    # unsafe_perm: code-server's postinstall refuses to run as root without it. yes: node-pty's postinstall
    # runs `npx node-gyp`. build_from_source: no prebuilt binaries from GitHub. nodedir: Debian's Node
    # headers, so node-gyp does not download them.
    local nodedir=()
    [ -f /usr/include/node/common.gypi ] && nodedir=(npm_config_nodedir=/usr)
    env TMPDIR="$tmp" npm_config_unsafe_perm=true npm_config_yes=true npm_config_build_from_source=true \
        "${nodedir[@]}" npm install --prefix "$partial" --no-audit --no-fund --loglevel=error \
        "code-server@$CODE_SERVER_VERSION" >"$cache/code-server-install.log" 2>&1 ||
        fail "npm install code-server failed; see $cache/code-server-install.log"
    local lib=$partial/node_modules/code-server/lib/vscode
    grep -q "\"version\": \"$RIPGREP_PACKAGE_VERSION\"" "$lib/node_modules/@vscode/ripgrep/package.json" ||
        fail "code-server's @vscode/ripgrep is not $RIPGREP_PACKAGE_VERSION: update RIPGREP_PACKAGE_VERSION"
    "$lib/node_modules/@vscode/ripgrep/bin/rg" --version >/dev/null || fail "code-server's ripgrep does not run"
    rm -rf "$target" "$tmp"
    mv "$partial" "$target"
    touch "$stamp"
}

install_driver() {
    if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
        echo "== npm ci (playwright-core)"
        (cd "$here" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    fi
}

install_debian_packages
install_code_server
install_driver
echo "e2e setup: ready (code-server $CODE_SERVER_VERSION in $cache/code-server)"
