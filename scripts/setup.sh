#!/usr/bin/env bash
# `npm run setup`: check the Node, install the npm dependencies exactly as locked, build the
# addon and the TypeScript, and put `wgmpls` on the PATH (npm link: a symlink in
# $(npm prefix -g)/bin to dist/cli/main.js), as the README's commands and the labs' stages
# (`wgmpls lab sync`, run on the host by containerlab) expect.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/check-node.js
npm ci
npm run build
# Install scripts stay off: the link needs no build (done above), and npm would only warn here.
npm link --ignore-scripts --no-fund --no-audit >/dev/null
bin="$(npm prefix -g)/bin"
here="$(pwd -P)/dist/cli/main.js"
found=$(command -v wgmpls || true)
if [ -z "$found" ]; then
  echo "setup: wgmpls is linked in $bin, which is not on PATH: add it to PATH, or run it as npx wgmpls" >&2
elif [ "$(readlink -f "$found")" != "$here" ]; then
  echo "setup: wgmpls on PATH is $found, not this checkout's ($here): put $bin first on PATH" >&2
else
  echo "setup: done; wgmpls is $found -> $here"
fi
