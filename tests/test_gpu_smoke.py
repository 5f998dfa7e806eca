"""benchmarks/gpu.sh --smoke: the GPU run's script, run on the CPU at tiny sizes, so it cannot rot unnoticed.

The smoke mode goes through the same code as the GPU run (the attack benchmark, every family on a zoo model in
float32 and with bfloat16 scoring, the comparison that decides which precision a model's rows use); only the
sizes, the device and the number of zoo models differ.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sn_lake.evaluate import families

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("bash") is None, reason="benchmarks/gpu.sh is a bash script")
def test_gpu_script_smoke_mode_writes_both_reports_with_the_device_in_every_row(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "OUT": str(out), "SN_LAKE_HOME": str(tmp_path / "home"), "PYTHON": sys.executable}
    env.pop("SN_LAKE_DEVICE", None)
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--smoke"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    zoo_eval = json.loads((out / "zoo_evaluation.json").read_text())
    assert zoo_eval["smoke"] is True and zoo_eval["device"] == "cpu"
    (model,) = zoo_eval["models"]
    assert {row["family"] for row in model["rows"]} == set(families.NAMES)
    assert all(row["hardware"] == zoo_eval["hardware"] and row["device"] == "cpu" for row in model["rows"])
    # the precision the rows use is the one the comparison allowed, and every compared column was compared
    assert model["forward_precision"] == ("bfloat16" if model["bfloat16_within_tolerance"] else "float32")
    assert all(row["forward_precision"] == model["forward_precision"] for row in model["rows"])
    assert set(model["max_difference"]) == set(families.NAMES)
    assert {"test_accuracy", "auc", "robust_accuracy", "agreement", "flagged"} <= {
        column for family in model["max_difference"].values() for column in family
    }
    assert set(model["seconds"]) == {"float32", "bfloat16"} and all(s > 0 for s in model["seconds"].values())

    attacks = json.loads((out / "attacks.json").read_text())
    assert attacks["smoke"] is True and attacks["device"] == "cpu"
    hardware_rows = [attacks["neural_cleanse"][k] for k in attacks["neural_cleanse"]]
    hardware_rows += [attacks[k] for k in ("membership", "stealing", "strip") if k in attacks]
    hardware_rows += list(attacks.get("adversarial", {}).values())
    assert hardware_rows and all("hardware" in row for row in hardware_rows)
    if "adversarial" in attacks:  # the reference libraries are installed (the bench extra): the ratios are there
        assert {"fgsm", "pgd", "square"} <= set(attacks["adversarial"])
        assert all(attacks["adversarial"][a]["repeats"] >= 2 for a in ("fgsm", "pgd", "square"))
    else:
        assert "not installed" in attacks["skipped"]
