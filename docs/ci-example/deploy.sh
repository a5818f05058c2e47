#!/usr/bin/env bash
# Slipway CI pipeline, as a plain shell script: import an MLflow version, deploy it to
# staging and wait until it is live, then request production (a platform engineer approves).
#
#   SLIPWAY_URL=http://127.0.0.1:8000 SLIPWAY_TOKEN=slw_... docs/ci-example/deploy.sh MODEL MLFLOW_VERSION
#
# Optional: SLIPWAY_TEAM (when two teams use the model name), STAGING_TIMEOUT (seconds, default
# 1800), WAIT_FOR_PRODUCTION=1 (also wait for approval and the production rollout).
# Exit codes are slipway's (docs/cli.md): 0 ok, 2 rolled back, 3 rejected/expired, 4 failed,
# 5 timed out, 6 refused by the API, 7 not authenticated, 1 usage or network error.
set -uo pipefail

MODEL=${1:?usage: deploy.sh MODEL MLFLOW_VERSION}
VERSION=${2:?usage: deploy.sh MODEL MLFLOW_VERSION}
STAGING_TIMEOUT=${STAGING_TIMEOUT:-1800}
SLIPWAY=${SLIPWAY:-slipway}
if ! command -v "$SLIPWAY" >/dev/null 2>&1; then
  # Running from a checkout of the Slipway repository after `make run` / `make install`.
  SLIPWAY="$(cd "$(dirname "$0")/../.." && pwd)/.venv/bin/slipway"
fi
team=()
if [ -n "${SLIPWAY_TEAM:-}" ]; then team=(--team "$SLIPWAY_TEAM"); fi

step() { printf '\n==> %s\n' "$*" >&2; }

step "who am I"
"$SLIPWAY" whoami || exit $?

step "import $MODEL v$VERSION from MLflow (already imported is fine)"
version_json=$("$SLIPWAY" versions import "$MODEL" "$VERSION" "${team[@]}" --exist-ok --json) || exit $?
version_id=$(printf '%s' "$version_json" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
echo "version id: $version_id" >&2

step "deploy $MODEL v$VERSION to staging and wait"
"$SLIPWAY" deploy "$MODEL" "$VERSION" "${team[@]}" --env staging --wait --timeout "$STAGING_TIMEOUT"
code=$?
case $code in
  0) echo "staging is live" >&2 ;;
  2) echo "staging rolled back: the gates refused this version (see the reason above)" >&2; exit 2 ;;
  5) echo "staging did not finish in ${STAGING_TIMEOUT}s; it keeps going in Slipway" >&2; exit 5 ;;
  *) exit $code ;;
esac

step "re-evaluate the checklist (staging soak, latency SLA) and check production would be accepted"
"$SLIPWAY" checklist evaluate "$version_id" || exit $?
sleep "${EVALUATE_DELAY:-3}"  # the evaluation is queued on the worker
if ! "$SLIPWAY" plan "$MODEL" "$VERSION" "${team[@]}" --env production; then
  echo "production would be refused; the checklist items above need a person (\`slipway checklist show $version_id\`)" >&2
  exit 6
fi

step "request production"
deployment=$("$SLIPWAY" deploy "$MODEL" "$VERSION" "${team[@]}" --env production) || exit $?
echo "production request #$deployment is waiting for a platform engineer: slipway approve $deployment" >&2
if [ "${WAIT_FOR_PRODUCTION:-0}" = "1" ]; then
  step "wait for approval and the production rollout"
  "$SLIPWAY" status "$deployment" --wait --timeout "${PRODUCTION_TIMEOUT:-86400}"
  exit $?
fi
