#!/usr/bin/env bash
# npm test: provision, type-check, lint, architecture checks, unused code, then every jest suite against real
# servers. The last line printed is "N passed, N failed, N skipped" (read by CI); each check before jest that
# fails counts as one failure there.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh test || { echo "0 passed, 1 failed"; exit 1; }
source scripts/lib.sh
use_pinned_node
echo "==> node $(node -p process.versions.node)"
mkdir -p test/.artifacts
status=0
checks_failed=0
check() {
  local name=$1; shift
  echo "==> $name"
  "$@" || { status=1; checks_failed=$((checks_failed + 1)); echo "==> $name FAILED"; }
}
check typecheck node_modules/.bin/tsc -p tsconfig.json --noEmit
check lint node_modules/.bin/eslint .
check "architecture (dependency-cruiser, .dependency-cruiser.cjs)" node_modules/.bin/depcruise --config .dependency-cruiser.cjs --output-type err .
check "unused files and exports (knip, knip.jsonc)" node_modules/.bin/knip --no-progress
echo "==> jest"
rm -f test/.artifacts/jest-results.json  # never count an earlier run's results
# --forceExit: a test that times out can leave a worker polling a server its file already stopped; the run must
# still end (after the global teardown) and report, not wait for CI's time limit.
node_modules/.bin/jest --ci --forceExit --json --outputFile=test/.artifacts/jest-results.json "$@"
jest_status=$?
[ $jest_status -eq 0 ] || status=1
node -e '
const r = (() => { try { return require("./test/.artifacts/jest-results.json"); } catch { return null; } })();
const extra = Number(process.argv[1]);
if (!r) { console.log(`0 passed, ${1 + extra} failed`); process.exit(0); }
const failedSuites = r.numRuntimeErrorTestSuites || 0;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests + failedSuites + extra} failed, ${r.numPendingTests} skipped`);
' "$checks_failed"
exit $status
