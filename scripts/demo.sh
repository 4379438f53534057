#!/usr/bin/env bash
# The main job on a sample: `argo recover` on a really broken system (see scripts/demo.ts). This prologue
# prepares the machine (Debian, as root) and the fixture roots, then runs the demo with the project's Node.js.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --fixtures
exec node_modules/.bin/node scripts/demo.ts "$@"
