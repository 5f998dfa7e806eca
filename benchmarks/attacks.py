"""Attack benchmark: our attacks against the reference libraries on the same zoo model and data, in one run.

* FGSM, PGD (L-inf, eps 8/255, 10 steps of 2/255, no random start) and Square (L-inf, eps 8/255, the same
  query budget and initial square size) against torchattacks: robust accuracy within 1 point, and the time
  ratio (goal: at most 1.0).
* The correctness membership attack against ART's rule-based attack (MembershipInferenceBlackBoxRuleBased):
  the same member/non-member verdicts.
* Model stealing against ART's CopycatCNN (same budget, surrogate, epochs, batch size, label-only queries):
  agreement with the target (mean over the seeds) within 2 points, and the time ratio (goal: at most 1.0).
* Batched Neural Cleanse (every label's trigger in one pass) against the same Neural Cleanse one label
  at a time: the same anomaly verdicts, and the speed-up (goal: at least 5x).
* STRIP against ART's STRIP given softmax outputs: detection rate on triggered inputs and false-rejection rate.

Timing of the comparisons with a ratio: each side is called once to warm up, then ``--repeats`` times (at
least 7), the two sides interleaved and their order alternated each round; a side's time is the median.
Both wall-clock and process CPU seconds are recorded; ``time_ratio_ours_over_ref`` uses the one named in
``timer``: CPU seconds on a CPU (what each side costs, whatever else shares the machine; PyTorch runs on one
thread here unless ``SN_LAKE_TORCH_THREADS`` says otherwise), wall-clock seconds after a synchronize on a GPU.
The randomized attacks (Square, stealing) use the round's index as both sides' seed, so their accuracies are
means over as many seeds as rounds.

The reference libraries are the ``bench`` extra (``make bench`` installs them); nothing at run time imports
them. Writes ``benchmarks/results/attacks.json`` (or ``--out``); every row records the device it ran on.

    .venv/bin/python benchmarks/attacks.py            # or `make bench`
    .venv/bin/python benchmarks/attacks.py --smoke --out /tmp/attacks.json   # seconds: proves the script runs
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sn_lake import config  # noqa: E402
from sn_lake.evaluate import configs, data, models, training, zoo  # noqa: E402
from sn_lake.evaluate.attacks.adversarial import FGSM, PGD, Square  # noqa: E402
from sn_lake.evaluate.attacks.backdoor import STRIP, NeuralCleanse  # noqa: E402
from sn_lake.evaluate.attacks.membership import metric_scores  # noqa: E402
from sn_lake.evaluate.attacks.stealing import ModelStealing  # noqa: E402

TARGET = "digits-convnext-low"
BACKDOORED = "digits-convnext-badnets-br"
SMOKE_MODEL = "digits-vit-extreme"  # the cheapest zoo model to train (a few seconds)
SEED = 0
EPS = 8 / 255
CPU = torch.device("cpu")

FULL = {
    "adv_samples": 300,
    "square_samples": 100,
    "square_queries": configs.AdversarialConfig.square_queries,
    "repeats": 7,
    "steal_budget": 400,
    "steal_epochs": 20,
    "nc_models": [BACKDOORED, TARGET, "digits-resnet-low"],
    "nc_steps": configs.BackdoorConfig.nc_steps,
}
SMOKE = {
    "adv_samples": 24,
    "square_samples": 16,
    "square_queries": 6,
    "repeats": 2,
    "steal_budget": 48,
    "steal_epochs": 1,
    "nc_models": [SMOKE_MODEL],
    "nc_steps": 3,
    "nc_threads_max": 1,
}


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device = CPU):
    synchronize(device)
    started = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - started


def interleaved(sides: dict, repeats: int, device: torch.device) -> dict:
    """Per side: ``fn(round)`` warmed up once, then ``repeats`` rounds with the sides interleaved (order alternating).

    Returns, per side, the outputs of each round and the wall and CPU seconds of each.
    """
    for fn in sides.values():
        fn(-1)
    runs = {name: {"outputs": [], "wall": [], "cpu": []} for name in sides}
    names = list(sides)
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            synchronize(device)
            wall, cpu = time.perf_counter(), time.process_time()
            out = sides[name](r)
            synchronize(device)
            runs[name]["wall"].append(time.perf_counter() - wall)
            runs[name]["cpu"].append(time.process_time() - cpu)
            runs[name]["outputs"].append(out)
    return runs


def timing(runs: dict, ours: str, ref: str, device: torch.device) -> dict:
    """The medians of both sides and their ratios; ``time_ratio_ours_over_ref`` uses the device's timer."""
    timer = "wall" if device.type == "cuda" else "cpu"
    med = {(side, kind): statistics.median(runs[side][kind]) for side in (ours, ref) for kind in ("wall", "cpu")}
    return {
        "timer": timer,
        "repeats": len(runs[ours]["wall"]),
        f"seconds_{ours}": med[(ours, "wall")],
        f"seconds_{ref}": med[(ref, "wall")],
        f"cpu_seconds_{ours}": med[(ours, "cpu")],
        f"cpu_seconds_{ref}": med[(ref, "cpu")],
        "wall_ratio_ours_over_ref": med[(ours, "wall")] / med[(ref, "wall")],
        "cpu_ratio_ours_over_ref": med[(ours, "cpu")] / med[(ref, "cpu")],
        "time_ratio_ours_over_ref": med[(ours, timer)] / med[(ref, timer)],
    }


def art_classifier(model, device, nb_classes=10):
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model=model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(3, 32, 32),
        nb_classes=nb_classes,
        clip_values=(0.0, 1.0),
        device_type="gpu" if device.type == "cuda" else "cpu",
    )


@torch.no_grad()
def accuracy(model, x, y) -> float:
    return float((model(x).argmax(1) == y).double().mean())


def adversarial(model, split, square_split, device, plan, hardware) -> dict:
    """FGSM, PGD and Square, ours against torchattacks on the same model, inputs and budgets."""
    import torchattacks

    x, y = split.x.to(device), split.y.to(device)
    xs, ys = square_split.x.to(device), square_split.y.to(device)
    queries = plan["square_queries"]
    pgd = lambda **kw: PGD(EPS, steps=10, alpha=2 / 255, random_start=False, **kw)  # noqa: E731
    cases = {
        "fgsm": (
            x,
            y,
            {
                "ours": lambda r: FGSM(EPS)(model, x, y),
                "torchattacks": lambda r: torchattacks.FGSM(model, eps=EPS)(x, y),
            },
            {},
        ),
        # ours keeps an example's image from the step that fooled the model and stops attacking it (the default);
        # ours_all_steps runs every step on every example, as torchattacks does: the same work, step for step
        "pgd": (
            x,
            y,
            {
                "ours": lambda r: pgd()(model, x, y),
                "torchattacks": lambda r: torchattacks.PGD(model, eps=EPS, alpha=2 / 255, steps=10, random_start=False)(
                    x, y
                ),
                "ours_all_steps": lambda r: pgd(stop_when_fooled=False)(model, x, y),
            },
            {},
        ),
        # torchattacks' n_queries counts the iterations after its initial query; ours counts every query
        "square": (
            xs,
            ys,
            {
                "ours": lambda r: Square(EPS, queries, configs.SQUARE_P_INIT, seed=max(r, 0))(model, xs, ys),
                "torchattacks": lambda r: torchattacks.Square(
                    model, eps=EPS, n_queries=queries - 1, p_init=configs.SQUARE_P_INIT, seed=max(r, 0)
                )(xs, ys),
            },
            {"queries_per_example": queries, "p_init": configs.SQUARE_P_INIT, "n_examples": len(ys)},
        ),
    }
    rows = {}
    for name, (xi, yi, sides, extra) in cases.items():
        runs = interleaved(sides, plan["repeats"], device)
        for side in runs:
            for out in runs[side]["outputs"]:
                assert float((out - xi).abs().max()) <= EPS + 1e-6, f"{side} {name} left the eps ball"
        acc = {side: float(np.mean([accuracy(model, out, yi) for out in runs[side]["outputs"]])) for side in runs}
        difference = 100 * abs(acc["ours"] - acc["torchattacks"])
        rows[name] = {
            "robust_accuracy_ours": acc["ours"],
            "robust_accuracy_torchattacks": acc["torchattacks"],
            "difference_points": difference,
            "within_1_point": difference <= 1.0,
            "epsilon": EPS,
            **extra,
            **timing(runs, "ours", "torchattacks", device),
            "hardware": hardware,
        }
        rows[name]["at_most_1x"] = rows[name]["time_ratio_ours_over_ref"] <= 1.0
        for side in set(runs) - {"ours", "torchattacks"}:
            variant = timing(runs, side, "torchattacks", device)
            rows[name][f"robust_accuracy_{side}"] = acc[side]
            rows[name][f"cpu_seconds_{side}"], rows[name][f"seconds_{side}"] = (
                variant[f"cpu_seconds_{side}"],
                variant[f"seconds_{side}"],
            )
            rows[name][f"time_ratio_{side}_over_ref"] = variant["time_ratio_ours_over_ref"]
    return rows


def membership(model, members, nonmembers, device, hardware) -> dict:
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased

    x = torch.cat([members.x, nonmembers.x])
    y = torch.cat([members.y, nonmembers.y])
    ours, t_ours = timed(lambda: metric_scores(training.logits_of(model, x, device), y)["correctness"], device)
    attack = MembershipInferenceBlackBoxRuleBased(art_classifier(model, device))
    theirs, t_ref = timed(lambda: attack.infer(x.numpy(), y.numpy()), device)
    return {
        "n": len(y),
        "same_verdicts": float((ours == theirs).mean()),
        "seconds_ours": t_ours,
        "seconds_art": t_ref,
        "member_rate_ours": float(ours.mean()),
        "member_rate_art": float(theirs.mean()),
        "hardware": hardware,
    }


def stealing(target, fresh, aux, test, device, plan, hardware, batch=64) -> dict:
    """Label-only stealing with one budget, ours against ART's CopycatCNN: one surrogate per side per round.

    Both sides answer for the same work: querying the target, training the surrogate, and its test predictions
    and the target's for the agreement (ours builds its surrogate inside the timed call too).
    """
    from art.attacks.extraction import CopycatCNN

    budget, epochs = plan["steal_budget"], plan["steal_epochs"]
    art_target = art_classifier(target, device)

    def ours(r):
        seed = max(r, 0)
        rows, _ = ModelStealing((budget,), label_only=True, epochs=epochs, seed=seed)(target, fresh, aux, test, device)
        return rows[0]["agreement"]

    def theirs(r):
        seed = max(r, 0)
        torch.manual_seed(seed)
        thief = fresh()
        thief.train()
        for p in thief.parameters():
            p.requires_grad_(True)
        art_thief = art_classifier(thief, device)
        art_thief._optimizer = torch.optim.AdamW(thief.parameters(), lr=configs.STEALING_LR)
        # the same one-cycle schedule as ours (which steps it per batch; ART steps a scheduler once per epoch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            art_thief._optimizer, max_lr=configs.STEALING_LR, total_steps=epochs + 1, pct_start=0.15
        )
        art_thief.fit = functools.partial(art_thief.fit, scheduler=schedule)
        copycat = CopycatCNN(
            art_target, batch_size_fit=batch, batch_size_query=batch, nb_epochs=epochs, nb_stolen=budget
        )
        queries = aux.sample(budget, seed).x.numpy()
        stolen = copycat.extract(queries, thieved_classifier=art_thief)
        target_test = art_target.predict(test.x.numpy()).argmax(1)
        return float((stolen.predict(test.x.numpy()).argmax(1) == target_test).mean())

    runs = interleaved({"ours": ours, "art": theirs}, plan["repeats"], device)
    agreement = {side: runs[side]["outputs"] for side in runs}
    difference = float(100 * abs(np.mean(agreement["ours"]) - np.mean(agreement["art"])))
    row = {
        "budget": budget,
        "epochs": epochs,
        "batch_size": batch,
        "label_only": True,
        "seeds": list(range(plan["repeats"])),
        "agreement_ours": float(np.mean(agreement["ours"])),
        "agreement_art_copycat": float(np.mean(agreement["art"])),
        "agreement_ours_per_seed": agreement["ours"],
        "agreement_art_per_seed": agreement["art"],
        "difference_points": difference,
        "within_2_points": difference <= 2.0,
        **timing(runs, "ours", "art", device),
        "hardware": hardware,
        "note": "ours trains the surrogate in channels-last memory order; ART trains the same network as given",
    }
    row["at_most_1x"] = row["time_ratio_ours_over_ref"] <= 1.0
    return row


def neural_cleanse(home, names, clean, device, steps, hardware, threads_max: int) -> dict:
    """Per model, and on a CPU per PyTorch thread count (1 and every core): verdicts and the speed-up of batching."""
    rows = {}
    thread_counts = sorted({1, threads_max}) if device.type == "cpu" else [torch.get_num_threads()]
    before = torch.get_num_threads()
    for name in names:
        model = models.load_folder(home / name, device).classifier
        for threads in thread_counts:
            torch.set_num_threads(threads)
            # each lambda runs at once, inside timed(); binding ``model`` only says so
            batched, t_batched = timed(
                lambda model=model: NeuralCleanse(steps, batch_size=16)(model, clean, 10, device), device
            )
            single, t_single = timed(
                lambda model=model: NeuralCleanse(steps, batch_size=16, labels_per_pass=1)(model, clean, 10, device),
                device,
            )
            key = name if device.type != "cpu" else f"{name} ({threads} threads)"
            rows[key] = {
                "flagged_batched": batched["flagged"],
                "flagged_one_label_at_a_time": single["flagged"],
                "target_batched": batched["target_label"],
                "target_one_label_at_a_time": single["target_label"],
                "same_verdict": batched["flagged"] == single["flagged"],
                "seconds_batched": t_batched,
                "seconds_one_label_at_a_time": t_single,
                "speedup": t_single / t_batched,
                "hardware": hardware if device.type != "cpu" else f"cpu ({threads} threads)",
            }
    torch.set_num_threads(before)
    return rows


def strip(model, splits, trigger, target_label, device, hardware) -> dict:
    from art.estimators.poison_mitigation.strip.strip import STRIPMixin

    pool = splits.test.sample(len(splits.test) - 1, SEED)
    calibration, evaluation, overlay = (
        pool.take(range(0, 100)),
        pool.take(range(100, 200)),
        pool.take(range(200, len(pool))),
    )
    triggered = trigger.apply(evaluation.x[evaluation.y != target_label])
    ours, t_ours = timed(
        lambda: STRIP(20, frr=0.01)(model, calibration, overlay, evaluation, device, triggered), device
    )

    class ArtStrip(STRIPMixin):
        nb_classes = 10

    def softmax(x):
        return torch.softmax(training.logits_of(model, torch.from_numpy(x).float(), device), 1).numpy()

    reference = ArtStrip(predict_fn=softmax, num_samples=20, false_acceptance_rate=0.01)
    np.random.seed(SEED)

    def run_art():
        reference.mitigate(calibration.x.numpy())
        rejected = lambda x: reference.predict(x.numpy()).sum(1) == 0  # noqa: E731  (abstain = all zeros)
        return float(rejected(triggered).mean()), float(rejected(evaluation.x).mean())

    (art_detection, art_frr), t_ref = timed(run_art, device)
    return {
        "detection_rate_ours": ours["detection_rate"],
        "false_rejection_rate_ours": ours["false_rejection_rate"],
        "detection_rate_art": art_detection,
        "false_rejection_rate_art": art_frr,
        "seconds_ours": t_ours,
        "seconds_art": t_ref,
        "hardware": hardware,
        "note": "ART blends images 50/50 and fits a normal to the clean entropies; "
        "ours adds and clips, and takes the empirical quantile",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, one cheap zoo model: proves the script in seconds"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "attacks.json", help="where the JSON goes"
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per comparison (default 7; smoke 2)")
    args = parser.parse_args(argv)
    plan = dict(SMOKE if args.smoke else FULL)
    if args.repeats:
        plan["repeats"] = args.repeats
    settings = config.load()
    device = models.resolve_device(settings)
    hardware = models.hardware(device)
    home = settings.home / "zoo"
    target_name = SMOKE_MODEL if args.smoke else TARGET
    backdoored_name = SMOKE_MODEL if args.smoke else BACKDOORED
    zoo.build_zoo(home, tuple(dict.fromkeys([target_name, backdoored_name, *plan["nc_models"]])), log=lambda _: None)
    splits = data.digits()
    target = models.load_folder(home / target_name, device)
    members = splits.train.take(range(target.training["train_size"]))
    missing = [m for m in ("torchattacks", "art") if not available(m)]
    report = {
        "hardware": hardware,
        "device": device.type,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "smoke": args.smoke,
        "plan": plan,
        "target_model": f"local:{target_name}",
        "backdoored_model": f"local:{backdoored_name}",
    }
    if missing:  # only a smoke run may go without them (CI has no reference libraries)
        if not args.smoke:
            raise SystemExit(
                f"benchmarks/attacks.py: expected the reference libraries, found {missing} missing: run `make bench`."
            )
        report["skipped"] = f"reference comparisons skipped: {', '.join(missing)} not installed"
    clf = target.classifier
    for p in clf.parameters():
        p.requires_grad_(False)
    if "torchattacks" not in missing:
        adv = splits.test.sample(plan["adv_samples"], SEED)
        report["adversarial"] = adversarial(clf, adv, adv.take(range(plan["square_samples"])), device, plan, hardware)
        print("adversarial", json.dumps(report["adversarial"], indent=1), flush=True)
    if "art" not in missing:
        report["membership"] = membership(
            clf, members.sample(500, SEED), splits.test.sample(500, SEED), device, hardware
        )
        print("membership", report["membership"], flush=True)

        def fresh():
            net = models.build(
                {
                    "architecture": "resnet18",
                    "num_classes": 10,
                    "model_args": zoo.TINY_ARCHS["resnet18"],
                    "pretrained_cfg": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3},
                }
            )
            return net.to(device)

        report["stealing"] = stealing(clf, fresh, splits.train, splits.test, device, plan, hardware)
        print("stealing", report["stealing"], flush=True)
    report["neural_cleanse"] = neural_cleanse(
        home,
        plan["nc_models"],
        splits.test.take(range(200)),
        device,
        plan["nc_steps"],
        hardware,
        plan.get("nc_threads_max") or os.cpu_count() or 1,
    )
    print("neural_cleanse", report["neural_cleanse"], flush=True)
    backdoored = models.load_folder(home / backdoored_name, device)
    record = backdoored.training.get("backdoor")
    if "art" not in missing and record:
        report["strip"] = strip(
            backdoored.classifier, splits, zoo.Trigger(**record["trigger"]), record["target_label"], device, hardware
        )
        print("strip", report["strip"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
