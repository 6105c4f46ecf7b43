#!/usr/bin/env bash
# npm test: provision, type-check, lint, then every jest suite against real servers.
# The last line printed is "N passed, N failed" (read by CI).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh test || { echo "0 passed, 1 failed"; exit 1; }
source scripts/lib.sh
use_pinned_node
echo "==> node $(node -p process.versions.node)"
mkdir -p test/.artifacts
status=0
echo "==> typecheck"; node_modules/.bin/tsc -p tsconfig.json --noEmit || status=1
echo "==> lint"; node_modules/.bin/eslint . || status=1
echo "==> jest"
node_modules/.bin/jest --ci --json --outputFile=test/.artifacts/jest-results.json "$@"
jest_status=$?
[ $jest_status -eq 0 ] || status=1
node -e '
const r = (() => { try { return require("./test/.artifacts/jest-results.json"); } catch { return null; } })();
if (!r) { console.log("0 passed, 1 failed"); process.exit(0); }
const extra = Number(process.argv[1]);
const failedSuites = r.numRuntimeErrorTestSuites || 0;
console.log(`${r.numPassedTests} passed, ${r.numFailedTests + failedSuites + extra} failed, ${r.numPendingTests} skipped`);
' "$([ $status -ne 0 ] && [ $jest_status -eq 0 ] && echo 1 || echo 0)"
exit $status
