#!/usr/bin/env bash
# The GPU run, prepared for the day a session is lent one: the attack benchmark and the zoo's evaluation on CUDA.
#
#   benchmarks/gpu.sh --pack    here, once, with a package registry: the Python 3.12 wheels the GPU image lacks
#                               (duckdb, polars, ART, torchattacks, tzdata), unpacked and xz-packed into
#                               .gpu/site.tar.xz (about 46 MB; .git/info/exclude ignores /.gpu/)
#   benchmarks/gpu.sh           on the GPU machine, in one 10-minute call of the device tool:
#                               run(command="bash benchmarks/gpu.sh", carry=[".gpu"], timeout_s=600)
#   benchmarks/gpu.sh --smoke   on a CPU in well under a minute: the same code paths at tiny sizes
#                               (tests/test_gpu_smoke.py runs it, so the script cannot rot)
#
# Writes under $OUT (a temporary folder when unset): attacks.json (benchmarks/attacks.py) and
# zoo_evaluation.json (every family on every zoo model, float32 and bfloat16-scored, compared). Every row
# records the device it ran on. Mixed precision is used only for forward passes without autograd (scoring:
# the shared logits, queries, detectors; gradients stay float32), and only on the models whose bfloat16
# results stayed within the tolerances of their float32 results; the others' rows are the float32 ones.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=full
case "${1:-}" in
  --smoke) MODE=smoke ;;
  --pack) MODE=pack ;;
  "") ;;
  *) echo "benchmarks/gpu.sh: expected --smoke, --pack or no argument, found '$1': pick one." >&2; exit 2 ;;
esac
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

if [ "$MODE" = pack ]; then
  # pip and xz here; the image has Python 3.12 and nothing can be fetched there
  wheels="$(mktemp -d)"; site="$(mktemp -d)"
  "$PYTHON" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$wheels" duckdb==1.4.4 polars==2.1.0 polars-runtime-32==2.1.0 \
    adversarial-robustness-toolbox==1.20.1 torchattacks==3.5.1 tzdata
  for w in "$wheels"/*.whl; do "$PYTHON" -m zipfile -e "$w" "$site"; done  # a wheel unpacked is an installed package
  mkdir -p "$ROOT/.gpu"
  grep -qx '/.gpu/' "$ROOT/.git/info/exclude" 2>/dev/null || echo '/.gpu/' >> "$ROOT/.git/info/exclude"
  tar -C "$site" -cf - . | xz -9 -T0 > "$ROOT/.gpu/site.tar.xz"
  rm -rf "$wheels" "$site"
  ls -l "$ROOT/.gpu/site.tar.xz"
  exit 0
fi

OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
if [ -f "$ROOT/.gpu/site.tar.xz" ]; then
  SITE=/tmp/sn_lake_gpu_site
  "$PYTHON" -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter='data')" \
    "$ROOT/.gpu/site.tar.xz" "$SITE"
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 GX_ANALYTICS_ENABLED=false
if [ "$MODE" = smoke ]; then
  export SN_LAKE_DEVICE=cpu SN_LAKE_HOME="${SN_LAKE_HOME:-$OUT/home}"
  ATTACKS_ARGS=(--smoke)
else
  export SN_LAKE_DEVICE=cuda SN_LAKE_HOME="${SN_LAKE_HOME:-/tmp/sn_lake_gpu_home}"
  ATTACKS_ARGS=()
  # the zoo trains on the CPU (16 cores there); CUDA work does not use these threads
  export SN_LAKE_TORCH_THREADS="${SN_LAKE_TORCH_THREADS:-8}"
  "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" || {
    echo "benchmarks/gpu.sh: expected a CUDA device, found none: run it on the GPU machine, or use --smoke." >&2
    exit 1; }
  "$PYTHON" -c "import duckdb, polars, art, torchattacks" || {
    echo "benchmarks/gpu.sh: expected duckdb, polars, ART and torchattacks, found one missing: run" \
         "'benchmarks/gpu.sh --pack' here and carry .gpu with the call." >&2; exit 1; }
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia_smi.csv" || true
fi

status=0
# the zoo's evaluation first: it writes its JSON after every model, so a run cut short still returns figures
timeout "${ZOO_TIMEOUT_S:-300}" "$PYTHON" - "$MODE" "$OUT/zoo_evaluation.json" <<'PY' || status=$?
"""Every attack family on every zoo model, in float32 and with bfloat16 scoring, and whether they agree."""
import json
import platform
import sys
import time
from dataclasses import replace

import torch

from sn_lake import config
from sn_lake.evaluate import cache, families, models, pipeline, zoo

mode, out = sys.argv[1], sys.argv[2]
smoke = mode == "smoke"
settings = config.load()
device = models.resolve_device(settings)
hardware = models.hardware(device)
names = ("digits-vit-extreme",) if smoke else tuple(spec.name for spec in zoo.ZOO)
zoo.build_zoo(settings.home / "zoo", names, log=lambda _: None)
# smoke: the same families and code paths at sizes that take seconds on a CPU
SMALL = {
    "model_stealing": {"query_budgets": (32,), "epochs": 1, "test_samples": 40},
    "membership_inference": {"max_per_side": 40, "n_bootstrap": 5},
    "adversarial": {"epsilons": (8 / 255,), "n_samples": 12, "pgd_steps": 2, "square_queries": 4},
    "backdoor_detection": {"nc_steps": 3, "nc_samples": 32, "n_inputs": 12, "strip_superimpose": 4},
}
# the tolerances of the reference comparisons (benchmarks/attacks.py): accuracies 1 point, agreement 2 points
TOLERANCE = {"train_accuracy": 0.01, "test_accuracy": 0.01, "auc": 0.01, "clean_accuracy": 0.01,
             "robust_accuracy": 0.01, "agreement": 0.02, "stealing_accuracy": 0.02, "flagged": 0}


def family_config(family):
    cfg = families.get(family).config()
    return replace(cfg, **SMALL.get(family, {})) if smoke else cfg


def synchronize():
    if device.type == "cuda":
        torch.cuda.synchronize()


def evaluate(model_id, score_dtype):
    """Every family's rows and seconds, with the model's scoring passes in ``score_dtype`` (None: float32)."""
    cache.CACHE.clear()  # nothing computed in the other precision is reused
    loaded = models.load(model_id, settings, device)
    loaded.classifier.score_dtype = score_dtype
    results = {}
    for family in families.NAMES:
        synchronize()
        started = time.perf_counter()
        summary = pipeline.run_family(settings, model_id, family, family_config(family), loaded=loaded)
        synchronize()
        rows = [{k: v for k, v in row.items() if not isinstance(v, list)} for row in summary["frame"].to_dicts()]
        results[family] = {"seconds": time.perf_counter() - started, "rows": rows}
    return results


def differences(a, b):
    """Per family, the largest difference of each compared column between two runs' rows (row by row)."""
    out = {}
    for family in a:
        worst = {}
        for ra, rb in zip(a[family]["rows"], b[family]["rows"]):
            for column in TOLERANCE.keys() & ra.keys():
                if ra[column] is None or rb[column] is None:
                    continue
                d = float(abs(float(ra[column]) - float(rb[column])))
                worst[column] = max(worst.get(column, 0.0), d)
        out[family] = worst
    return out


# one untimed round of each precision first: the first passes of a process pay for kernel selection and caches
evaluate(f"local:{names[0]}", None), evaluate(f"local:{names[0]}", torch.bfloat16)
report = {"hardware": hardware, "device": device.type, "torch": torch.__version__, "platform": platform.platform(),
          "smoke": smoke, "tolerance": TOLERANCE, "models": []}
for name in names:
    model_id = f"local:{name}"
    runs = {"float32": evaluate(model_id, None), "bfloat16": evaluate(model_id, torch.bfloat16)}
    diff = differences(runs["float32"], runs["bfloat16"])
    within = all(d <= TOLERANCE[c] for fam in diff.values() for c, d in fam.items())
    chosen = "bfloat16" if within else "float32"
    seconds = {p: sum(f["seconds"] for f in r.values()) for p, r in runs.items()}
    rows = [{**row, "family": fam, "hardware": hardware, "forward_precision": chosen}
            for fam, res in runs[chosen].items() for row in res["rows"]]
    report["models"].append({
        "model_id": model_id, "hardware": hardware, "forward_precision": chosen, "bfloat16_within_tolerance": within,
        "max_difference": diff, "seconds": seconds, "speedup_bfloat16": seconds["float32"] / seconds["bfloat16"],
        "seconds_per_family": {p: {f: v["seconds"] for f, v in r.items()} for p, r in runs.items()}, "rows": rows,
    })
    with open(out, "w") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(f"{model_id}: {seconds} within tolerance: {within}", flush=True)
print(f"wrote {out}")
PY
timeout "${ATTACKS_TIMEOUT_S:-240}" "$PYTHON" "$ROOT/benchmarks/attacks.py" "${ATTACKS_ARGS[@]}" \
  --out "$OUT/attacks.json" \
  > "$OUT/attacks.log" 2>&1 || status=$?
tail -n 3 "$OUT/attacks.log"
ls -l "$OUT"
exit "$status"
