#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, type check, every test. Run as root on Debian.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh --fixtures
export PATH="$PWD/node_modules/.bin:$PATH"

echo "test: type check" >&2
tsc -p tsconfig.json --noEmit

results=$(mktemp -t argo-vitest-XXXXXX.json)
trap 'rm -f "$results"' EXIT
status=0
vitest run --reporter=default --reporter=json --outputFile.json="$results" </dev/null || status=$?
# One plain closing line for tools that read it.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$results" || true
exit "$status"
