#!/usr/bin/env bash
# Can the pinned Ray start heads on this machine fast enough for the Ray
# integration tests (a dozen heads within CI's time)? Starts one (`ray start
# --head --block`, a free port, its own temp dir) and times it until "Ray
# runtime started". Exits 0 if it came up within RAY_PROBE_MAX_SECONDS (15:
# half of Ray's own 30 s registration deadline; a healthy machine needs a few);
# otherwise prints why and exits 1. Ray has start-up deadlines of its own (the
# raylet waits about 15 s for its dashboard agent, `ray start` 30 s for the
# raylet to register) that a slow machine misses now and then however long
# we wait: seen on a loaded 2-core machine, where a head took 155 s when it
# came up at all. Stops exactly the process group it started.
set -uo pipefail
RAY_BIN=${1:?usage: ray-probe.sh RAY_BIN_DIR}
dir=$(mktemp -d)
log=$dir/ray-start.log
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
: >"$log"
setsid "$RAY_BIN/ray" start --head --block --disable-usage-stats --port="$port" \
  --dashboard-host=127.0.0.1 --temp-dir="$dir/ray" >"$log" 2>&1 &
pid=$!
stop() {
  kill -TERM -- "-$pid" 2>/dev/null
  for _ in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap stop EXIT
# A signal (CI cancelled, Ctrl-C) ends the script through its EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM
max=${RAY_PROBE_MAX_SECONDS:-15}
start=$(date +%s)
for _ in $(seq 1 1200); do # 4 minutes
  if grep -q "Ray runtime started" "$log"; then
    took=$(($(date +%s) - start))
    if [ "$took" -gt "$max" ]; then
      echo "a head took ${took} s to start (the tests need under ${max} s each)"
      exit 1
    fi
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    why=$(grep -v '^\s*$' "$log" | tail -n 1)
    crash=$(grep -ho 'Timed out waiting for file [^ ]*' "$dir"/ray/session_*/logs/raylet.out 2>/dev/null | head -n 1)
    echo "ray start exited: ${why}${crash:+ (raylet: ${crash##*/})}"
    exit 1
  fi
  sleep 0.2
done
echo "no head after 4 minutes"
exit 1
