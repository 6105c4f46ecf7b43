#!/usr/bin/env bash
# npm start: provision what the platform needs (idempotent, cached), then run the stack and the platform
# on the pinned Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh start
source scripts/lib.sh
use_pinned_node
exec node_modules/.bin/tsx scripts/start.ts
