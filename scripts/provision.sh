#!/usr/bin/env bash
# Installs everything the local stack and the tests need, idempotently; a second run takes seconds.
#   - npm dependencies (npm ci only when package-lock.json changed)
#   - Debian packages: postgresql, redis-server (and docker-compose, only to validate docker-compose.yml;
#     chromium, only for the browser test of the approvals page, driven by playwright-core)
#   - Temporal CLI v1.5.1 (dev server + Web UI), built with `go install` into the cache
#   - Java time-skipping test server (Maven jars) + an AppCDS archive so the JVM starts well within
#     the ~5 s the TypeScript SDK waits for it
# Cache: ${DURABLE_TRADER_CACHE:-$HOME/.cache/durable-trader} (shared by all checkouts on this machine).
# Never reads stdin; every network step runs under `timeout`.
set -Eeuo pipefail
exec </dev/null

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR
cd "$ROOT"
START=$(date +%s)
[ -d /usr/local/go/bin ] && case ":$PATH:" in *":/usr/local/go/bin:"*) ;; *) PATH="$PATH:/usr/local/go/bin" ;; esac

step "cache directory"
mkdir -p "$CACHE/bin" "$CACHE/test-server" || fail "cannot create $CACHE" "set DURABLE_TRADER_CACHE to a writable directory"
# One provisioning at a time per cache (two CI jobs must not run go install / mvn into the same place).
exec 9>"$CACHE/.provision.lock"
if ! flock -n 9; then
  log "    another provisioning holds $CACHE/.provision.lock; waiting (up to 30 min)"
  flock -w 1800 9 || fail "timed out waiting for $CACHE/.provision.lock" "stop the other provisioning run (see: fuser $CACHE/.provision.lock) and retry"
fi

# ---------------------------------------------------------------------------------------------------
step "node >= 20.3"
have node || fail "node is not installed" "install Node.js 20 (>= 20.3), e.g. from the nodejs.org binaries or NodeSource, and put it on PATH"
NODE_VERSION=$(node -p 'process.versions.node')
node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=3)?0:1)' ||
  fail "node $NODE_VERSION is too old (the Temporal SDK needs >= 20.3)" "install Node.js 20.3 or newer"
log "    node $NODE_VERSION"

# ---------------------------------------------------------------------------------------------------
step "npm dependencies"
LOCK_HASH=$(sha256_of package-lock.json)
STAMP=node_modules/.provisioned-lock-hash
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$LOCK_HASH" ]; then
  log "    up to date (package-lock.json unchanged)"
elif [ -d node_modules ] && [ ! -f "$STAMP" ] && [ -f node_modules/.package-lock.json ] &&
  node -e '
    const want = require("./package-lock.json").packages, have = require("./node_modules/.package-lock.json").packages;
    const off = Object.entries(want).filter(([k, v]) => k && !v.optional && (!have[k] || have[k].version !== v.version));
    process.exit(off.length ? 1 : 0);' 2>/dev/null; then
  # Installed before this script existed: npm's own record of the tree matches the lock file, so adopt it
  # instead of deleting node_modules under anyone's feet.
  echo "$LOCK_HASH" >"$STAMP"
  log "    node_modules already matches package-lock.json (recorded)"
else
  have npm || fail "npm is not installed" "install npm (it comes with Node.js)"
  T0=$(date +%s)
  NPM_LOG=$(mktemp)
  if ! run_limited 900 "npm ci" npm ci --no-audit --no-fund >"$NPM_LOG" 2>&1; then
    if grep -q "can only install packages when your package.json and package-lock.json" "$NPM_LOG"; then
      # npm 11's `npm ci` rejects a lock file that lacks other platforms' optional packages; `npm install
      # --no-save` installs the locked versions all the same and leaves package-lock.json untouched.
      warn "npm ci says package-lock.json is out of sync ($(grep -c 'Missing: ' "$NPM_LOG") 'Missing:' entries, e.g. $(grep -m1 -o 'Missing: [^ ]*' "$NPM_LOG")); installing the locked versions with npm install --no-save instead. Lasting fix: regenerate the lock file so that npm ci accepts it"
      run_limited 900 "npm install" npm install --no-audit --no-fund --no-save >>"$NPM_LOG" 2>&1 || {
        tail -30 "$NPM_LOG" >&2
        fail "npm install failed (log $NPM_LOG)" "check the npm output above (registry reachable?)"
      }
    else
      tail -30 "$NPM_LOG" >&2
      fail "npm ci failed (log $NPM_LOG)" "check the npm output above (registry reachable? package-lock.json in sync with package.json?)"
    fi
  fi
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
have java || missing+=(openjdk-17-jre-headless)
have mvn || missing+=(maven)
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
if have docker-compose; then
  :
elif apt_install docker-compose && have docker-compose; then
  :
else
  warn "docker-compose could not be installed; only test/infra/compose.test.ts needs it (it will fail with a clear message). Fix: apt-get install -y docker-compose"
fi
# Debian's browser, never one downloaded by playwright's installer; tests read CHROMIUM_PATH (default /usr/bin/chromium).
if [ -x "$CHROMIUM_PATH" ]; then
  :
elif [ "$CHROMIUM_PATH" = /usr/bin/chromium ] && apt_install chromium && [ -x "$CHROMIUM_PATH" ]; then
  :
else
  warn "no chromium at $CHROMIUM_PATH; only test/web/approvals-page.test.ts needs it (it will fail with a clear message). Fix: apt-get install -y chromium (or set CHROMIUM_PATH to a Chromium binary)"
fi
log "    postgres: $PG_BIN ($("$PG_BIN/postgres" --version | awk '{print $3}'))"
log "    redis:    $REDIS_BIN ($("$REDIS_BIN" --version | awk '{print $3}' | sed 's/v=//'))"
log "    java:     $(command -v java) ($(java -version 2>&1 | head -1))"

# ---------------------------------------------------------------------------------------------------
step "temporal cli ${TEMPORAL_CLI_VERSION}"
TEMPORAL_BIN="$CACHE/bin/temporal"
if temporal_cli_ok "$TEMPORAL_BIN"; then
  log "    up to date: $TEMPORAL_BIN"
else
  have go || fail "go is not installed (needed once to build the Temporal CLI)" \
    "install Go >= 1.25 (e.g. the official tarball into /usr/local/go, then export PATH=\$PATH:/usr/local/go/bin), or copy a temporal CLI ${TEMPORAL_CLI_VERSION} binary to $TEMPORAL_BIN"
  log "    building with $(go version | awk '{print $3}') (first time: several minutes on 2 cores; cached afterwards)"
  T0=$(date +%s)
  run_limited 2700 "go install temporal CLI" env GOBIN="$CACHE/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod \
    go install "${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}" ||
    fail "go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed" "check the go output above (Go module proxy reachable? GOPROXY/GOFLAGS set oddly? enough disk for the module cache?)"
  temporal_cli_ok "$TEMPORAL_BIN" || fail "$TEMPORAL_BIN was built but is not version ${TEMPORAL_CLI_VERSION}" "delete $TEMPORAL_BIN and run npm run provision again"
  log "    built in $(elapsed_since "$T0")s: $TEMPORAL_BIN"
fi

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

# ---------------------------------------------------------------------------------------------------
step "summary"
cat <<EOF
    cache                  $CACHE
    temporal CLI           $TEMPORAL_BIN
    time-skipping server   $TEST_SERVER_WRAPPER (java, jars in $TS_LIB, archive $TS_DIR/app.jsa)
    postgres binaries      $PG_BIN
    redis-server           $REDIS_BIN
    docker-compose         $(command -v docker-compose || echo 'MISSING (apt-get install -y docker-compose)')
    chromium               $([ -x "$CHROMIUM_PATH" ] && echo "$CHROMIUM_PATH (CHROMIUM_PATH)" || echo 'MISSING (apt-get install -y chromium)')
    local stack            npx tsx scripts/stack-cli.ts up   (data in .local/dev)
    provisioned in $(elapsed_since "$START")s
EOF
