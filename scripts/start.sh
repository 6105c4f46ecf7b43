#!/usr/bin/env bash
# npm start: provision what is missing (idempotent, cached), then run the stack and the platform.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh
exec node_modules/.bin/tsx scripts/start.ts
