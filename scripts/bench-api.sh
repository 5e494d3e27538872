#!/usr/bin/env bash
# Measures the HTTP API of a release build on 127.0.0.1 and prints whether
# each target is met:
#
# (a) GET /api/v1/workflows/{id} with a valid bearer token under wrk
#     (BENCH_THREADS=2 threads, BENCH_CONNECTIONS=64 connections,
#     BENCH_DURATION=10s), side by side with a bare warp 0.4 handler that
#     returns the same bytes. Targets: at least half the bare handler's
#     requests per second, and a p99 latency under 10 ms.
# (b) A fan-out workflow of BENCH_STEPS=200 independent no-op plugin steps
#     executed through the API, timed from the request that starts it to
#     the first poll (every 5 ms) that reports it finished. Target: 300 steps
#     per second or more. The server runs BENCH_PARALLEL=8 steps at once.
#
# The no-op plugin is a POSIX shell script that reads its input with a
# builtin and exits 0, under the shipped `strict` profile. Run the script on an otherwise idle
# machine; it needs wrk, python3 and a Rust toolchain. BENCH_PROFILE
# selects the Cargo profile (default `release`; `dev` checks the script
# itself quickly, and its figures mean nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

profile=${BENCH_PROFILE:-release}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-64}
duration=${BENCH_DURATION:-10s}
steps=${BENCH_STEPS:-200}
parallel=${BENCH_PARALLEL:-8}

command -v wrk >/dev/null || { echo "bench-api: wrk is missing; install Debian's wrk package" >&2; exit 1; }

cargo build --profile "$profile" --workspace
cargo build --profile "$profile" -p vwmp-supervisor --example bench_api
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
profile_dir=$profile
[ "$profile" = dev ] && profile_dir=debug
bin="$target_dir/$profile_dir"
vwmp="$bin/vwmp"
bench="$bin/examples/bench_api"

# Everything lives in one temporary directory. 0711 lets workers that run
# as another user (when this script runs as root) reach their workspaces.
work=$(mktemp -d -t vwmp-bench-api.XXXXXX)
chmod 0711 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The no-op plugin.
plugin="$work/plugins/noop"
mkdir -p "$plugin"
cat >"$plugin/noop.sh" <<'SH'
#!/bin/sh
# Reads the step request with the shell's own `read`, so the step starts no
# process beyond the shell, and succeeds with no outputs.
while read -r line; do :; done
SH
chmod 0755 "$work/plugins" "$plugin" "$plugin/noop.sh"
{
    printf 'name = "noop"\nversion = "1.0.0"\napi_version = 1\n'
    printf 'description = "Does nothing, for benchmarks."\nexecutable = "noop.sh"\n'
    printf 'profile = "strict"\n\n'
    "$vwmp" plugin digests "$plugin"
    printf '\n[[handlers]]\nname = "run"\ndescription = "Succeeds at once."\n'
} >"$plugin/plugin.toml"
"$vwmp" plugin check "$plugin" >/dev/null

# Server settings, shared by `vwmp user add` and `vwmp serve`.
export VWMP_SERVER_LISTEN=127.0.0.1:0
export VWMP_STORAGE_STATE_DIR="$work/state"
export VWMP_ENGINE_PLUGINS_DIR="$work/plugins"
export VWMP_ENGINE_PROFILES_DIR="$repo/sandbox-profiles"
export VWMP_ENGINE_WORKSPACE_ROOT="$work/workspaces"
export VWMP_ENGINE_MAX_PARALLEL_STEPS="$parallel"
export VWMP_AUTH_SECURE_COOKIES=false
export VWMP_LOGGING_LEVEL=warn

umask 077
python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$work/password"
"$vwmp" user add bench --role admin --password-file "$work/password" >/dev/null

"$vwmp" serve >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
for _ in $(seq 100); do
    grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
server=$(sed -n 's|^vwmp: listening on http://||p' "$work/serve.out")
[ -n "$server" ] || { echo "bench-api: vwmp serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }

"$bench" setup --server "$server" --username bench --password-file "$work/password" \
    --handler noop.run --out "$work" >/dev/null
workflow_id=$(cat "$work/workflow_id")

"$bench" bare --body "$work/workflow.json" --address-file "$work/bare.address" >/dev/null &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$work/bare.address" ] && break
    sleep 0.1
done
bare=$(cat "$work/bare.address")

# wrk reads the token from a file, so it appears in no command line.
cat >"$work/auth.lua" <<'LUA'
local file = assert(io.open(os.getenv("BENCH_TOKEN_FILE"), "r"))
wrk.headers["Authorization"] = "Bearer " .. file:read("*l")
file:close()
LUA

run_wrk() { # NAME URL
    local name=$1 url=$2
    # A short warm-up fills connection pools and caches.
    BENCH_TOKEN_FILE="$work/token" wrk -t"$threads" -c"$connections" -d2s \
        -s "$work/auth.lua" "$url" >/dev/null
    BENCH_TOKEN_FILE="$work/token" wrk -t"$threads" -c"$connections" -d"$duration" \
        --latency -s "$work/auth.lua" "$url" >"$work/$name.wrk"
}
run_wrk api "http://$server/api/v1/workflows/$workflow_id"
run_wrk bare "http://$bare/api/v1/workflows/$workflow_id"

"$bench" fanout --server "$server" --token-file "$work/token" --handler noop.run \
    --steps "$steps" >"$work/fanout.out" || {
    echo "bench-api: the fan-out execution failed:" >&2
    cat "$work/fanout.out" >&2
    exit 1
}

python3 - "$work" "$threads" "$connections" "$duration" "$parallel" <<'PY'
import pathlib, re, sys

work = pathlib.Path(sys.argv[1])
threads, connections, duration, parallel = sys.argv[2:6]
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

def wrk_figures(name):
    text = (work / f"{name}.wrk").read_text()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        sys.exit(f"bench-api: {name}: {errors.group(1)} responses were not 2xx; "
                 f"wrk output:\n{text}")
    if "Socket errors" in text:
        print(f"warning: {name}: wrk reported socket errors: "
              + re.search(r"Socket errors:.*", text).group(0))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return rps, float(value) * UNITS[unit]

api_rps, api_p99 = wrk_figures("api")
bare_rps, bare_p99 = wrk_figures("bare")
ratio = api_rps / bare_rps
fanout = dict(line.split("=", 1) for line in (work / "fanout.out").read_text().split())
steps_per_second = float(fanout["steps_per_second"])

def verdict(ok):
    return "met" if ok else "MISSED"

print(f"GET /api/v1/workflows/{{id}}: wrk -t{threads} -c{connections} -d{duration}")
print(f"{'':<22} {'requests/s':>11} {'p99 ms':>8}")
print(f"{'vwmp serve':<22} {api_rps:>11.0f} {api_p99:>8.2f}")
print(f"{'bare warp handler':<22} {bare_rps:>11.0f} {bare_p99:>8.2f}")
print(f"ratio vwmp/bare: {ratio:.2f}   target >= 0.50: {verdict(ratio >= 0.5)}")
print(f"p99 of vwmp: {api_p99:.2f} ms   target < 10 ms: {verdict(api_p99 < 10.0)}")
print()
print(f"fan-out: {fanout['steps']} no-op steps, {parallel} at once, "
      f"{fanout['seconds']} s end to end")
print(f"steps/s: {steps_per_second:.1f}   target >= 300: {verdict(steps_per_second >= 300)}")
PY
