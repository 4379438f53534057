#!/usr/bin/env bash
# The build swarm end to end on one machine (see scripts/swarm-demo.ts). This prologue prepares the machine
# (Debian, as root) and the fixture roots, then runs the demo with the project's Node.js. Exit 0 only when every
# step worked.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --fixtures
exec node_modules/.bin/node scripts/swarm-demo.ts "$@"
