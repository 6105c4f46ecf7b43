#!/bin/sh
# One-shot: registers the namespace the platform uses once the server answers (temporalio/admin-tools image).
set -eu
ns="${DEFAULT_NAMESPACE:-default}"
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" | grep -q SERVING; do sleep 2; done
temporal operator namespace describe -n "$ns" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1 ||
  temporal operator namespace create -n "$ns" --retention 7d --address "$TEMPORAL_ADDRESS"
echo "namespace $ns ready"
