#!/usr/bin/env bash
# Flake hunt: run the nbval suite (strict) N times on one broker and report how many runs failed.
#
#   tests/notebooks/flake_check.sh [-n RUNS] [-b memory|amqp|redis|URL] [--busy] [--head] [NOTEBOOK ...]
#
# --head runs a clean export of the last commit (git archive HEAD) instead of the working tree,
# so edits in progress in the checkout cannot pass for flakes.
# --busy saturates every core with a CPU hog during every other run (runs 1, 3, 5, ...), so part
# of the suite runs on a starved machine.  After each run the script also looks for processes the
# run left behind (anything still carrying this run's marker in its environment: a kernel, a worker).
# Logs of failed runs are kept in $FLAKE_LOGS (default: a fresh folder under /tmp).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=$PWD/.venv/bin/python
runs=5 broker=memory busy=0 head=0 notebooks=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--runs) runs=$2; shift 2 ;;
    -b|--broker) broker=$2; shift 2 ;;
    --busy) busy=1; shift ;;
    --head) head=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) notebooks+=("$1"); shift ;;
  esac
done
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks)
case "$broker" in
  memory) url=memory:// ;;
  amqp) url=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672//} ;;
  redis) url=${REDIS_URL:-redis://127.0.0.1:6379/0} ;;
  *) url=$broker ;;
esac
name=${url%%:*}
logs=${FLAKE_LOGS:-$(mktemp -d "/tmp/flake-$name-XXXX")}
mkdir -p "$logs" && logs=$(cd "$logs" && pwd)

hogs=()
stop_hogs() { for pid in "${hogs[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; hogs=(); }
tree=""
trap 'stop_hogs; [ -z "$tree" ] || rm -rf "$tree"' EXIT
start_hogs() {
  for _ in $(seq "$(nproc)"); do "$PY" -c 'while True: pass' & hogs+=($!); done
}

if [ "$head" = 1 ]; then
  tree=$(mktemp -d /tmp/flake-head-XXXX)
  git archive HEAD | tar -x -C "$tree" || exit 1
  echo "testing commit $(git rev-parse --short HEAD) exported to $tree"
  cd "$tree" || exit 1
fi

passed=0 failed=0 leftovers=0
failures=()
for i in $(seq "$runs"); do
  mark="flake-$$-$i"
  label=""
  if [ "$busy" = 1 ] && [ $((i % 2)) = 1 ]; then start_hogs; label=" (cores busy)"; fi
  start=$(date +%s)
  FLAKE_MARK=$mark BROKER_URL="$url" $PY -m pytest -p no:cacheprovider -q --nbval "${notebooks[@]}" \
    --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
    --nbval-cell-timeout 180 --timeout 900 -o testpaths=notebooks >"$logs/run-$i.log" 2>&1
  status=$?
  stop_hogs
  seconds=$(( $(date +%s) - start ))
  left=$(grep -lsz "^FLAKE_MARK=$mark\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')
  tail_line=$(tail -n 1 "$logs/run-$i.log")
  if [ $status = 0 ]; then
    passed=$((passed + 1)); rm -f "$logs/run-$i.log"
    echo "run $i/$runs on $name$label: PASS in ${seconds}s: $tail_line"
  else
    failed=$((failed + 1))
    what=$(grep -E '^(FAILED|ERROR) ' "$logs/run-$i.log" | sed -E 's/^(FAILED|ERROR) (.*) - .*/\2/' | tr '\n' ';')
    failures+=("run $i: ${what:-exit $status}")
    echo "run $i/$runs on $name$label: FAIL in ${seconds}s: ${what:-$tail_line} (log: $logs/run-$i.log)"
  fi
  if [ -n "$left" ]; then
    leftovers=$((leftovers + 1))
    echo "  left behind by run $i: processes $left"
    for pid in $left; do kill "$pid" 2>/dev/null; done
  fi
done

echo
echo "flake check on $name: $passed of $runs runs passed, $failed failed, $leftovers left processes behind"
for line in "${failures[@]}"; do echo "  $line"; done
[ $failed = 0 ] && [ $leftovers = 0 ]
