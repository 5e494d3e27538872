#!/usr/bin/env bash
# Measures the sandboxed launch of a no-op program (/bin/true) through the
# launcher under `strict` and `default`, beside a bare fork and exec and
# `bwrap --unshare-all --die-with-parent`, all in one criterion run, then
# prints the medians and the targets: at most 2 ms, and at most 0.6 times
# bwrap's median. Run it as root on an otherwise idle machine; bwrap comes
# from Debian's bubblewrap package.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --workspace
cargo bench -p vwmp-supervisor --bench launch -- --noplot "$@"

python3 - <<'PY'
import json, pathlib

root = pathlib.Path("target/criterion/launch")
names = {
    "bare fork+exec": "bare fork+exec",
    "bwrap --unshare-all": "bwrap --unshare-all",
    "vwmp strict": "vwmp strict",
    "vwmp default": "vwmp default",
    "vwmp strict pooled": "vwmp strict pooled",
    "vwmp default pooled": "vwmp default pooled",
}
medians = {}
for directory in root.iterdir():
    benchmark = directory / "new" / "benchmark.json"
    estimates = directory / "new" / "estimates.json"
    if not benchmark.exists() or not estimates.exists():
        continue
    name = json.loads(benchmark.read_text())["function_id"]
    medians[name] = json.loads(estimates.read_text())["median"]["point_estimate"] / 1e6

bwrap = medians.get("bwrap --unshare-all")
print(f"{'benchmark':<24} {'median ms':>10} {'x bwrap':>8}  target")
for name in names:
    if name not in medians:
        continue
    value = medians[name]
    ratio = f"{value / bwrap:.2f}" if bwrap else "-"
    target = ""
    if name.startswith("vwmp"):
        ok = value <= 2.0 and (bwrap is None or value <= 0.6 * bwrap)
        target = "met" if ok else "MISSED"
    print(f"{name:<24} {value:>10.3f} {ratio:>8}  {target}")
PY
