#!/usr/bin/env bash
# bench-peers.sh: wrk and `socklab load` against the same HTTP servers (nginx
# with one worker, and socklab's own http target), same connections and
# duration, servers pinned to CPU 0 and load generators to CPU 1; prints the
# ratios socklab/wrk of throughput and p50.
#
# usage: scripts/bench-peers.sh [SOCKLAB_BINARY]   (DURATION=5 CONNS="1 16" ROUNDS=3)
set -euo pipefail
SOCKLAB=${1:-./socklab}
DURATION=${DURATION:-5}
CONNS=${CONNS:-1 16}
ROUNDS=${ROUNDS:-3}
need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
	apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null
fi
pin0=(); pin1=()
if need taskset && [ "$(nproc)" -ge 2 ]; then pin0=(taskset -c 0); pin1=(taskset -c 1); fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# nginx: one worker, its own prefix, a loopback port chosen by a throwaway
# listener (nginx cannot report an ephemeral port).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/logs"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $tmp/logs/error.log;
pid $tmp/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$port;
		location / { default_type text/plain; return 200 "Hello, world!"; }
	}
}
CONF
"${pin0[@]}" nginx -p "$tmp" -c "$tmp/nginx.conf" & pids+=($!)

# socklab's own http target.
model=epoll
"$SOCKLAB" models 2>/dev/null | grep -qw epoll || model=goroutine
"${pin0[@]}" "$SOCKLAB" serve --model "$model" --protocol http >"$tmp/serve.out" & pids+=($!)
# Wait (bounded) for both servers to be ready.
for _ in $(seq 50); do
	[ -s "$tmp/serve.out" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
own=$(awk 'NR==1 {print $4}' "$tmp/serve.out")
targets="nginx socklab-$model"
if [ -z "$own" ]; then echo "note: socklab serve did not report an address; comparing on nginx only" >&2; targets=nginx; fi

# wrk's p50 from --latency ("50%  123.00us"), in microseconds.
wrk_us() { awk '$1=="50%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1e6}}'; }

# median of the arguments
med() { python3 -c 'import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }

# The two tools alternate, ROUNDS times each, and the medians are compared:
# on a small virtual machine one sample each swings by more than the
# difference being measured (idle CPUs wake up slowly at 1 connection).
printf "%-30s %5s %12s %12s %7s %10s %10s %7s\n" target conns "wrk req/s" "socklab r/s" ratio "wrk p50" "sl p50" ratio
for name in $targets; do
	if [ "$name" = nginx ]; then addr=127.0.0.1:$port; else addr=$own; fi
	for c in $CONNS; do
		wr=(); wp=(); sr=(); sp=(); serr=0
		for _ in $(seq "$ROUNDS"); do
			w=$("${pin1[@]}" wrk -t1 -c"$c" -d"${DURATION}s" --latency "http://$addr/")
			wr+=("$(awk '/^Requests\/sec/ {print $2}' <<<"$w")")
			wp+=("$(wrk_us <<<"$w")")
			s=$("${pin1[@]}" "$SOCKLAB" load --protocol http -c "$c" -d "${DURATION}s" --json --allow-errors "$addr")
			sr+=("$(json 'd["achieved_rate"]' <<<"$s")")
			sp+=("$(json 'd["uncorrected"]["p50_us"]' <<<"$s")")
			serr=$((serr + $(json 'd["errors_total"]' <<<"$s")))
		done
		wrps=$(med "${wr[@]}"); wp50=$(med "${wp[@]}"); srps=$(med "${sr[@]}"); sp50=$(med "${sp[@]}")
		printf "%-30s %5d %12.0f %12.0f %6.2fx %9.1fus %9.1fus %6.2fx  (socklab errors: %s)\n" "$name $addr" "$c" "$wrps" "$srps" \
			"$(python3 -c "print($srps/$wrps)")" "$wp50" "$sp50" "$(python3 -c "print($sp50/$wp50)")" "$serr"
	done
done
echo "medians of $ROUNDS alternating runs of ${DURATION}s each; throughput ratio = socklab/wrk (want >= 1.0); p50 ratio = socklab/wrk (want within 0.85..1.15)"
