#!/bin/sh
# Java time-skipping test server for @temporalio/testing:
#   TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: <this file> } } })
# sdk-core runs `run.sh <port>` with no other arguments (do not add --enable-time-skipping: the TS SDK
# locks/unlocks time skipping itself) and SIGKILLs this PID on teardown, so java must be exec'd.
# Jars and the AppCDS archive are in the cache filled by scripts/provision.sh.
# JVM flags chosen by measurement, see scripts/README-stack.md. Knobs (for measuring only):
#   DURABLE_TRADER_TEST_SERVER_FLAGS   replaces the tuned flags below
#   DURABLE_TRADER_TEST_SERVER_CDS=0   ignore the archive
#   DURABLE_TRADER_TEST_SERVER_TRAIN=F write a new archive to F when the JVM exits (provisioning)
#   DURABLE_TRADER_TEST_SERVER_JAVA_OPTS extra flags appended
set -eu
CACHE="${DURABLE_TRADER_CACHE:-${HOME:-/root}/.cache/durable-trader}"
TS="$CACHE/test-server"
if ! ls "$TS"/lib/temporal-test-server-*.jar >/dev/null 2>&1; then
  echo "temporal test server jars missing in $TS/lib. Fix: npm run provision" >&2
  exit 1
fi
FLAGS="${DURABLE_TRADER_TEST_SERVER_FLAGS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:CICompilerCount=1 -Xss512k -Xms64m -XX:-UsePerfData}"
CDS="-Xshare:auto"
if [ -n "${DURABLE_TRADER_TEST_SERVER_TRAIN:-}" ]; then
  CDS="$CDS -XX:ArchiveClassesAtExit=$DURABLE_TRADER_TEST_SERVER_TRAIN"
elif [ "${DURABLE_TRADER_TEST_SERVER_CDS:-1}" != 0 ] && [ -f "$TS/app.jsa" ]; then
  CDS="$CDS -XX:SharedArchiveFile=$TS/app.jsa"
fi
# shellcheck disable=SC2086
exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" $FLAGS $CDS -Xlog:cds=off -Xlog:cds+dynamic=off \
  ${DURABLE_TRADER_TEST_SERVER_JAVA_OPTS:-} -cp "$TS/lib/*" io.temporal.testserver.TestServer "$@"
