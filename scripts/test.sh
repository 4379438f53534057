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
# One plain closing line for tools that read it. CI fails when a test was skipped or when no test ran at
# all: a skipped test is a test that did not prove anything on this machine.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) { console.error("test: no test ran"); process.exit(1); }
  if (skipped > 0) { console.error("test: skipped tests fail the run; every test must run on a clean Debian machine"); process.exit(1); }
' "$results" || { [ "$status" -ne 0 ] || status=1; }
exit "$status"
