#!/usr/bin/env bash
# The whole suite: lint, unit and broker tests, then every notebook under nbval strict
# on memory://, RabbitMQ and Redis.  Assumes .ci/setup has run.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672//}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
status=0
# In CI the brokers are ours alone, so the fault tests may restart the RabbitMQ app, and there is time
# for the full soak (10,000 messages per broker, about a minute for all three).
if [ "${CI:-}" = true ]; then
  export FAULTS_RESTART_BROKER=${FAULTS_RESTART_BROKER:-1} SOAK_MESSAGES=${SOAK_MESSAGES:-10000}
fi
step() { echo; echo "=== $*"; }

step "ruff (code and notebooks)"
.venv/bin/ruff check . || status=1

step "pytest: unit, broker matrix and browser tests"
$PY -m pytest tests -p no:cacheprovider --timeout 300 || status=1

for url in memory:// "$AMQP_URL" "$REDIS_URL"; do
  step "nbval strict: notebooks on ${url%%:*}"
  BROKER_URL="$url" $PY -m pytest -p no:cacheprovider --nbval notebooks \
    --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
    --nbval-cell-timeout 180 --timeout 900 -o testpaths=notebooks || status=1
done

echo
if [ $status -eq 0 ]; then echo "ALL GREEN"; else echo "SOMETHING FAILED (see above)"; fi
exit $status
