"""Evaluation throughput: a model's full evaluation with the shared evaluation cache and without it, in one run.

Two models of the same size are evaluated: the zoo's timm ``digits-convnext-low`` and a transformers ConvNeXt
with the same widths and depths (``convnext_atto``'s), trained here on digits with the same recipe. Each runs
every family through :func:`sn_lake.evaluate.pipeline.run_family` with its default configuration, one family
after the other in one process, as Dagster's in-process executor runs a partition's five steps:

* ``uncached`` -- today's path without the cache (:func:`sn_lake.evaluate.cache.disabled`): each family loads the
  model, decodes the dataset and runs its own forward passes;
* ``cached`` -- the cache on, emptied first: one model load, one dataset decode, one set of logits per split.

Then the timm model's full evaluation runs as Dagster's default executor runs it (the sensor's, the daemon's and the
UI's runs: a process per step), each a fresh ``dagster asset materialize`` whose CPU seconds include its step
processes (``wait4``):

* ``per_family_steps`` -- today's path: one asset per family, each step its own process that imports PyTorch, loads
  the model and decodes the dataset (``benchmarks/per_family_assets.py``);
* ``one_step_per_model`` -- sn_lake's: the five assets computed by one step per model (``evaluate_model``), so the
  cache is shared by the five families whichever executor runs it.

Each pair of paths alternates (``--rounds``, the order swapped each round, medians kept) after a warm-up evaluation
with tiny configurations that is not counted, and their results are compared (a speed-up that changed the
answers would not count). The timer is this process's CPU time (``time.process_time``: user + system, every
thread), because other jobs share the machine and stretch wall time; wall seconds are recorded beside it.
PyTorch runs with ``SN_LAKE_TORCH_THREADS`` threads (1 by default), so CPU seconds are core-seconds.

Reported per model and path: CPU and wall seconds per family, each family's share, models per hour (per core,
from CPU seconds; and on this machine's wall clock), also for the four attack families without task accuracy;
what the cache did (loads, decodes, rows of logits); ``speedup``: ``per_family_steps``' CPU seconds over
``one_step_per_model``'s (issue 15's goal: at least 1.5 for a zoo model; not measured with ``--smoke``);
``in_process_speedup``: the uncached path's over the cached path's in one process; and ``cacheable_work``:
the CPU seconds of one load, one decode and one pass over both splits, and the ``ceiling`` they put on the
speed-up of any cache of them (the attacks' own optimisation steps and queries are not shared by any cache).
``--amp-check`` also scores the forward-only passes under bfloat16 autocast and records whether they stay within
tolerance.

Everything is written under a scratch ``--home`` (zoo models, results), never a user's ``$SN_LAKE_HOME``.

    .venv/bin/python benchmarks/evaluate_throughput.py            # 5-10 min, 1 thread: benchmarks/results/...json
    .venv/bin/python benchmarks/evaluate_throughput.py --quick    # one round each
    .venv/bin/python benchmarks/evaluate_throughput.py --smoke --out /tmp/t.json   # seconds: proves the script runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sn_lake import config  # noqa: E402
from sn_lake.evaluate import cache, configs, data, models, pipeline, results, training, zoo  # noqa: E402
from sn_lake.evaluate import families as family_registry  # noqa: E402
from sn_lake.evaluate.attacks.membership import MetricAttacks  # noqa: E402

TIMM_MODEL = "digits-convnext-low"
SMOKE_MODEL = "digits-vit-extreme"
HF_MODEL = "hf-convnext-digits"  # written under <home>/zoo, so its id is local:hf-convnext-digits
PATHS = ("uncached", "cached")
ATTACK_FAMILIES = [f for f in family_registry.NAMES if f != "task_accuracy"]
SPEEDUP_GOAL = 1.5
RESULT_TOLERANCE = 0.01  # the two paths' metrics may differ by float noise in batched passes, not by more
ACCURACY_TOLERANCE = 0.005  # --amp-check: half a point of top-1 accuracy
AUC_TOLERANCE = 0.005
SCRATCH_HOME = Path(tempfile.gettempdir()) / "sn_lake_evaluate_throughput"
NOT_COMPARED = {"runtime_s", "computed_at", "hardware", "path"}  # differ between any two runs

# tiny configurations: the warm-up, and every family in --smoke
TINY = {
    "task_accuracy": configs.AccuracyConfig(),
    "model_stealing": configs.StealingConfig(query_budgets=(60,), epochs=1, test_samples=100),
    "membership_inference": configs.MembershipConfig(max_per_side=60, n_bootstrap=10),
    "adversarial": configs.AdversarialConfig(epsilons=(2 / 255, 8 / 255), n_samples=16, pgd_steps=2, square_queries=6),
    "backdoor_detection": configs.BackdoorConfig(
        nc_steps=3, nc_samples=32, strip_superimpose=4, n_inputs=12, neo_stride=8
    ),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_transformers_convnext(home: Path, spec: zoo.ZooSpec, epochs: int | None = None) -> str:
    """A transformers ConvNeXt as wide and deep as the zoo's convnext_atto, trained on digits like ``spec``;
    returns its model id (the folder is reused when its training record matches)."""
    import transformers as tf
    from transformers.utils import logging as tf_logging

    tf_logging.disable_progress_bar()
    tf_logging.set_verbosity_error()
    folder = home / "zoo" / HF_MODEL
    epochs = spec.epochs if epochs is None else epochs
    record = {"dataset": "digits", "train_size": spec.train_size, "epochs": epochs, "seed": spec.seed}
    saved = folder / "config.json"
    if (folder / "model.safetensors").is_file() and json.loads(saved.read_text()).get("sn_lake") == record:
        return f"local:{HF_MODEL}"
    arch = zoo.TINY_ARCHS["convnext_atto"]
    names = [str(i) for i in range(10)]
    cfg = tf.ConvNextConfig(
        num_channels=3,
        hidden_sizes=arch["dims"],
        depths=arch["depths"],
        patch_size=4,
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )
    processor = tf.ConvNextImageProcessor(
        size={"shortest_edge": data.DIGITS_SIDE}, crop_pct=1.0, image_mean=list(zoo.MEAN), image_std=list(zoo.STD)
    )
    training.seeded(spec.seed)
    net = tf.ConvNextForImageClassification(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    net.save_pretrained(str(folder), safe_serialization=True)
    processor.save_pretrained(str(folder))
    # train through sn_lake's Classifier, so the processor's steps are the ones the evaluation applies
    classifier = models.load_folder(folder, torch.device("cpu")).classifier
    for p in classifier.parameters():
        p.requires_grad_(True)
    members = data.digits().train.take(range(spec.train_size))
    training.train(
        classifier,
        members.x,
        members.y,
        epochs=epochs,
        lr=spec.lr,
        weight_decay=spec.weight_decay,
        seed=spec.seed,
        augment=training.random_shift if spec.augment else None,
    )
    classifier.net.save_pretrained(str(folder), safe_serialization=True)
    saved.write_text(json.dumps({**json.loads(saved.read_text()), "sn_lake": record}, indent=2) + "\n")
    return f"local:{HF_MODEL}"


def evaluate(settings, model_id: str, family_configs: dict, device: torch.device) -> dict:
    """Every family of one model in order, as one partition's steps: CPU and wall seconds and the rows per family."""
    out = {}
    for family in family_registry.NAMES:
        synchronize(device)
        cpu, wall = time.process_time(), time.perf_counter()
        summary = pipeline.run_family(settings, model_id, family, family_configs[family], dataset="digits")
        synchronize(device)
        out[family] = {
            "cpu_seconds": time.process_time() - cpu,
            "wall_seconds": time.perf_counter() - wall,
            "frame": summary["frame"],
        }
    return out


def run_path(path: str, settings, model_id: str, family_configs: dict, device: torch.device) -> dict:
    """One full evaluation on ``path`` (see the module docstring); with what the cache did on the cached path."""
    if path == "uncached":
        with cache.disabled():
            return {"families": evaluate(settings, model_id, family_configs, device)}
    cache.CACHE.clear()
    families = evaluate(settings, model_id, family_configs, device)
    return {"families": families, "cache": cache.CACHE.stats()}


def result_difference(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """The largest absolute difference between two runs' numeric results (inf when their shapes differ)."""
    if a.shape != b.shape or a.columns != b.columns:
        return float("inf")
    gaps = [0.0]
    for column, dtype in a.schema.items():
        if column in NOT_COMPARED or not dtype.is_numeric():
            continue
        x, y = a[column].cast(pl.Float64), b[column].cast(pl.Float64)
        if (x.is_null() != y.is_null()).any():
            return float("inf")
        gap = (x - y).abs().max()
        gaps.append(0.0 if gap is None else float(gap))
    return max(gaps)


def cacheable_work(settings, model_id: str, device: torch.device) -> dict:
    """CPU seconds of what the cache can share: a model load, a dataset decode, and the logits of both whole splits.

    Without the cache the four families after the first load and decode again, and membership inference, stealing
    and the adversarial clean pass redo forward passes over (parts of) the splits: at most 4 loads, 4 decodes and 3
    passes over both splits are saved, so ``ceiling`` bounds the speed-up any such cache can give this evaluation.
    """
    with cache.disabled():
        cpu = time.process_time()
        loaded = models.load(model_id, settings, device)
        load = time.process_time() - cpu
        cpu = time.process_time()
        splits = data.load("digits", settings)
        decode = time.process_time() - cpu
        models.align_labels(loaded, splits)
        cpu = time.process_time()
        training.logits_of(loaded.classifier, splits.train.x, device)
        training.logits_of(loaded.classifier, splits.test.x, device)
        forward = time.process_time() - cpu
    return {
        "model_load_cpu_seconds": load,
        "dataset_decode_cpu_seconds": decode,
        "forward_both_splits_cpu_seconds": forward,
        "most_saved_cpu_seconds": 4 * (load + decode) + 3 * forward,
    }


def summarize(runs: list[dict]) -> dict:
    """Medians over rounds per family; totals, shares and models per hour."""
    families = {}
    for family in family_registry.NAMES:
        cpu = statistics.median(r["families"][family]["cpu_seconds"] for r in runs)
        wall = statistics.median(r["families"][family]["wall_seconds"] for r in runs)
        families[family] = {"cpu_seconds": cpu, "wall_seconds": wall, "models_per_hour_per_core": 3600 / cpu}
    cpu = sum(f["cpu_seconds"] for f in families.values())
    wall = sum(f["wall_seconds"] for f in families.values())
    attack_cpu = sum(families[f]["cpu_seconds"] for f in ATTACK_FAMILIES)
    for f in families.values():
        f["share_of_cpu"] = f["cpu_seconds"] / cpu
    out = {
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "models_per_hour_per_core": 3600 / cpu,
        "models_per_hour_wall": 3600 / wall,
        "models_per_hour_per_core_four_attack_families": 3600 / attack_cpu,
        "families": families,
    }
    if "cache" in runs[-1]:
        out["cache"] = runs[-1]["cache"]
    return out


def compare(settings, model_id: str, family_configs: dict, device: torch.device, rounds: int) -> dict:
    """Both paths ``rounds`` times, interleaved; their summaries, the speed-up and how far their results differ."""
    runs = {path: [] for path in PATHS}
    for r in range(rounds):
        for path in PATHS if r % 2 == 0 else PATHS[::-1]:
            runs[path].append(run_path(path, settings, model_id, family_configs, device))
            cpu = sum(f["cpu_seconds"] for f in runs[path][-1]["families"].values())
            print(f"{model_id} {path} round {r}: {cpu:.2f} CPU s", flush=True)
    summaries = {path: summarize(runs[path]) for path in PATHS}
    first = {path: runs[path][0]["families"] for path in PATHS}
    differences = {
        f: result_difference(first["uncached"][f]["frame"], first["cached"][f]["frame"]) for f in family_registry.NAMES
    }
    loaded = models.load(model_id, settings, device)
    uncached = summaries["uncached"]["cpu_seconds"]
    shareable = cacheable_work(settings, model_id, device)
    shareable["ceiling"] = uncached / max(uncached - shareable["most_saved_cpu_seconds"], 1e-9)
    return {
        "model_id": model_id,
        "loader": loaded.loader,
        "architecture": loaded.architecture,
        "num_parameters": loaded.num_parameters,
        "rounds": rounds,
        **summaries,
        "speedup": uncached / summaries["cached"]["cpu_seconds"],
        "cacheable_work": shareable,
        "wall_speedup": summaries["uncached"]["wall_seconds"] / summaries["cached"]["wall_seconds"],
        "max_result_difference": differences,
        "same_results": all(d <= RESULT_TOLERANCE for d in differences.values()),
    }


EXECUTOR_PATHS = {
    # today's path: one asset per family, each its own step (benchmarks/per_family_assets.py)
    "per_family_steps": ["-f", str(ROOT / "benchmarks" / "per_family_assets.py"), "--select", "*"],
    # sn_lake's: the five assets computed by one step per model (assets/evaluation.py: evaluate_model)
    "one_step_per_model": ["-m", "assets.definitions", "--select", "group:evaluation"],
}


def run_dagster(arguments: list[str], env: dict, log: Path) -> dict:
    """One ``dagster asset materialize`` to its end: CPU seconds of it and every process it waited for (the step
    processes), from ``wait4``; wall seconds. Its output goes to ``log``."""
    command = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", *arguments]
    wall = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: see {log}")
    return {"cpu_seconds": usage.ru_utime + usage.ru_stime, "wall_seconds": time.perf_counter() - wall}


def newest_results(settings, model_id: str) -> dict[str, pl.DataFrame]:
    """Each family's newest results file of ``model_id``."""
    out = {}
    for family in family_registry.NAMES:
        files = sorted(results.model_dir(settings, family, model_id).glob("*.parquet"), key=lambda p: p.stat().st_mtime)
        out[family] = pl.read_parquet(files[-1])
    return out


def compare_executors(settings, model_id: str, rounds: int) -> dict:
    """The full evaluation of one model as Dagster's default executor runs it (a process per step): today's five
    steps against one step per model, ``rounds`` times interleaved, each a fresh ``dagster`` process; CPU seconds of
    the whole process tree, and whether both paths gave the same results."""
    import dagster as dg

    dagster_home = settings.home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(config.DAGSTER_HOME_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_dynamic_partitions("models", [model_id])
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "SN_LAKE_HOME": str(settings.home),
        "SN_LAKE_TORCH_THREADS": str(torch.get_num_threads()),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }
    runs: dict[str, list[dict]] = {path: [] for path in EXECUTOR_PATHS}
    frames: dict[str, dict[str, pl.DataFrame]] = {}
    for r in range(rounds):
        for path in EXECUTOR_PATHS if r % 2 == 0 else list(EXECUTOR_PATHS)[::-1]:
            log = settings.home / f"dagster-{path}.log"
            runs[path].append(run_dagster([*EXECUTOR_PATHS[path], "--partition", model_id], env, log))
            frames.setdefault(path, newest_results(settings, model_id))
            print(f"{model_id} {path} round {r}: {runs[path][-1]['cpu_seconds']:.1f} CPU s", flush=True)
    out = {
        path: {k: statistics.median(run[k] for run in path_runs) for k in ("cpu_seconds", "wall_seconds")}
        for path, path_runs in runs.items()
    }
    before, after = (frames[path] for path in EXECUTOR_PATHS)
    differences = {f: result_difference(before[f], after[f]) for f in family_registry.NAMES}
    return {
        "model_id": model_id,
        "rounds": rounds,
        **out,
        "speedup": out["per_family_steps"]["cpu_seconds"] / out["one_step_per_model"]["cpu_seconds"],
        "wall_speedup": out["per_family_steps"]["wall_seconds"] / out["one_step_per_model"]["wall_seconds"],
        "max_result_difference": differences,
        "same_results": all(d <= RESULT_TOLERANCE for d in differences.values()),
    }


def amp_check(settings, model_id: str, device: torch.device) -> dict:
    """The forward-only scoring passes in float32 and under bfloat16 autocast: accuracy and AUC differences, seconds."""
    loaded = models.load(model_id, settings, device)
    splits = data.load("digits", settings)
    members = splits.train.take(range(loaded.training.get("train_size") or len(splits.train)))
    out = {}
    for mode in ("float32", "bfloat16"):
        synchronize(device)
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bfloat16"):
            m_logits = training.logits_of(loaded.classifier, members.x, device)
            t_logits = training.logits_of(loaded.classifier, splits.test.x, device)
        synchronize(device)
        seconds = time.perf_counter() - started
        rows = MetricAttacks(n_bootstrap=0)(
            loaded.classifier, members, splits.test, device, lambda i, m=m_logits: m[i], lambda i, t=t_logits: t[i]
        )
        out[mode] = {
            "seconds": seconds,
            "train_accuracy": float((m_logits.argmax(1) == members.y).double().mean()),
            "test_accuracy": float((t_logits.argmax(1) == splits.test.y).double().mean()),
            "auc": {r["attack"]: r["auc"] for r in rows},
        }
    accuracy_gap = max(abs(out["float32"][k] - out["bfloat16"][k]) for k in ("train_accuracy", "test_accuracy"))
    auc_gap = max(abs(out["float32"]["auc"][a] - out["bfloat16"]["auc"][a]) for a in out["float32"]["auc"])
    within = accuracy_gap <= ACCURACY_TOLERANCE and auc_gap <= AUC_TOLERANCE
    return {
        "model_id": model_id,
        **out,
        "max_accuracy_difference": accuracy_gap,
        "max_auc_difference": auc_gap,
        "tolerance": {"accuracy": ACCURACY_TOLERANCE, "auc": AUC_TOLERANCE},
        "within_tolerance": within,
        "speedup": out["float32"]["seconds"] / out["bfloat16"]["seconds"],
        "hardware": models.hardware(device),
        "used": "no: recorded only; the library scores in float32",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="a cheap model, tiny configurations: proves the script in seconds"
    )
    parser.add_argument("--quick", action="store_true", help="one round of each path (default configurations)")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of both paths per model (default 3; quick and smoke 1)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "evaluate_throughput.json")
    parser.add_argument(
        "--home",
        type=Path,
        default=SCRATCH_HOME,
        help="scratch SN_LAKE_HOME for models and results (trained models reused)",
    )
    parser.add_argument("--no-transformers", action="store_true", help="the timm model only")
    parser.add_argument(
        "--amp-check", action="store_true", help="compare bfloat16 autocast with float32 on the scoring passes"
    )
    args = parser.parse_args(argv)
    os.environ["SN_LAKE_HOME"] = str(args.home)  # the evaluation writes results: never into a user's lake
    settings = config.load()
    device = models.resolve_device(settings)  # also sets PyTorch's threads (SN_LAKE_TORCH_THREADS)
    rounds = args.rounds or (1 if args.smoke or args.quick else 3)
    timm_name = SMOKE_MODEL if args.smoke else TIMM_MODEL
    zoo.build_zoo(settings.home / "zoo", (timm_name,), log=lambda _: None)
    family_configs = TINY if args.smoke else {f: family_registry.get(f).config() for f in family_registry.NAMES}
    model_ids = [f"local:{timm_name}"]
    if not args.no_transformers:
        spec = next(s for s in zoo.ZOO if s.name == TIMM_MODEL)
        smoke_spec = replace(spec, train_size=120)
        model_ids.append(
            build_transformers_convnext(
                settings.home, smoke_spec if args.smoke else spec, epochs=1 if args.smoke else None
            )
        )
    started = time.process_time(), time.perf_counter()
    evaluate(settings, model_ids[0], TINY, device)  # warm-up (imports, first allocations), not counted
    report = {
        "hardware": models.hardware(device),
        "device": device.type,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "smoke": args.smoke,
        "configs": "tiny (smoke)" if args.smoke else "each family's defaults (sn_lake.evaluate.configs)",
        "timer": "time.process_time: this process's CPU seconds (user + system, all threads), the machine being "
        "shared with other jobs; wall seconds beside it; medians over rounds, the paths interleaved",
        "paths": {
            "uncached": "in one process, without the cache: each family loads the model, decodes the dataset "
            "and runs its own forward passes",
            "cached": "in one process, sn_lake.evaluate.cache on: one model load, one dataset decode, one set of "
            "logits per split",
            "per_family_steps": "today's path under Dagster's default executor (the sensor, the daemon, the UI): "
            "one asset per family, each step its own process (benchmarks/per_family_assets.py)",
            "one_step_per_model": "sn_lake's: the five assets computed by one step per model "
            "(assets/evaluation.py: evaluate_model), under the same executor",
        },
        "speedup_goal": SPEEDUP_GOAL,
        "result_tolerance": RESULT_TOLERANCE,
    }
    report["models"] = [compare(settings, m, family_configs, device, rounds) for m in model_ids]
    first = report["models"][0]
    report["in_process_speedup"] = first["speedup"]  # the cache alone, in one process: uncached over cached
    if not args.smoke:  # the timm zoo model through Dagster's default executor, today's steps against ours
        report["executors"] = compare_executors(settings, first["model_id"], rounds)
        report["speedup"] = report["executors"]["speedup"]
        report["speedup_model"] = first["model_id"]
        report["speedup_met"] = report["speedup"] >= SPEEDUP_GOAL and report["executors"]["same_results"]
    if len(report["models"]) == 2:
        timm_row, hf_row = report["models"]
        report["parameters_ratio_transformers_over_timm"] = hf_row["num_parameters"] / timm_row["num_parameters"]
        report["cpu_ratio_transformers_over_timm"] = hf_row["cached"]["cpu_seconds"] / timm_row["cached"]["cpu_seconds"]
    if args.amp_check:
        report["amp_check"] = [amp_check(settings, m, device) for m in model_ids]
    report["benchmark_cpu_seconds"] = time.process_time() - started[0]
    report["benchmark_wall_seconds"] = time.perf_counter() - started[1]
    for row in [*report["models"], *report.get("amp_check", [])]:
        row["hardware"] = report["hardware"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    for m in report["models"]:
        shares = ", ".join(f"{f} {v['share_of_cpu']:.0%}" for f, v in m["cached"]["families"].items())
        print(
            f"{m['model_id']} ({m['loader']}, {m['num_parameters']:,} parameters): uncached "
            f"{m['uncached']['cpu_seconds']:.1f} CPU s, cached {m['cached']['cpu_seconds']:.1f} CPU s, speedup "
            f"{m['speedup']:.2f}x, {m['cached']['models_per_hour_per_core']:.0f} models/h per core; same results: "
            f"{m['same_results']}; speed-up ceiling of any such cache {m['cacheable_work']['ceiling']:.2f}x; "
            f"shares (cached): {shares}"
        )
    if "executors" in report:
        e = report["executors"]
        print(
            f"{e['model_id']} under Dagster's default executor: five steps {e['per_family_steps']['cpu_seconds']:.1f} "
            f"CPU s, one step {e['one_step_per_model']['cpu_seconds']:.1f} CPU s, speedup {e['speedup']:.2f}x; "
            f"same results: {e['same_results']}"
        )
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
