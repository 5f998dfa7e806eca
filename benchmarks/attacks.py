"""Attack benchmark: our attacks against the reference libraries on the same zoo model and data, in one run.

* FGSM and PGD (L-inf, eps 8/255, 10 steps of 2/255, no random start) against torchattacks: robust
  accuracy within 1 point, and the time ratio.
* The correctness membership attack against ART's rule-based attack (MembershipInferenceBlackBoxRuleBased):
  the same member/non-member verdicts.
* Model stealing against ART's CopycatCNN (same budget, surrogate, epochs, batch size, label-only queries):
  agreement with the target (mean over three seeds) within 2 points, and the time ratio.
* Batched Neural Cleanse (every label's trigger in one pass) against the same Neural Cleanse one label
  at a time: the same anomaly verdicts, and the speed-up (goal: at least 5x).
* STRIP against ART's STRIP given softmax outputs: detection rate on triggered inputs and false-rejection rate.

The reference libraries are the ``bench`` extra (``make bench`` installs them); nothing at run time
imports them. Writes ``benchmarks/results/attacks.json``.

    .venv/bin/python benchmarks/attacks.py        # or `make bench`
"""

from __future__ import annotations

import functools
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sn_lake import config  # noqa: E402
from sn_lake.evaluate import configs, data, models, training, zoo  # noqa: E402
from sn_lake.evaluate.attacks.adversarial import FGSM, PGD  # noqa: E402
from sn_lake.evaluate.attacks.backdoor import STRIP, NeuralCleanse  # noqa: E402
from sn_lake.evaluate.attacks.membership import metric_scores  # noqa: E402
from sn_lake.evaluate.attacks.stealing import ModelStealing  # noqa: E402

TARGET = "digits-convnext-low"
BACKDOORED = "digits-convnext-badnets-br"
N_ADV = int(os.environ.get("BENCH_ADV_SAMPLES", "300"))
SEED = 0


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - started


def art_classifier(model, nb_classes=10):
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(3, 32, 32), nb_classes=nb_classes,
                             clip_values=(0.0, 1.0), device_type="gpu" if torch.cuda.is_available() else "cpu")  # fmt: skip


def adversarial(model, split, device):
    import torchattacks

    x, y = split.x.to(device), split.y.to(device)
    acc = lambda xa: float((model(xa).argmax(1) == y).double().mean())  # noqa: E731
    rows = {}
    for name, ours, theirs in (
        ("fgsm", FGSM(8 / 255), torchattacks.FGSM(model, eps=8 / 255)),
        ("pgd", PGD(8 / 255, steps=10, alpha=2 / 255, random_start=False), torchattacks.PGD(model, eps=8 / 255, alpha=2 / 255, steps=10, random_start=False)),
    ):
        x_ours, t_ours = timed(lambda: ours(model, x, y))
        x_ref, t_ref = timed(lambda: theirs(x, y))
        rows[name] = {"robust_accuracy_ours": acc(x_ours), "robust_accuracy_torchattacks": acc(x_ref),
                      "difference_points": 100 * abs(acc(x_ours) - acc(x_ref)), "seconds_ours": t_ours,
                      "seconds_torchattacks": t_ref, "time_ratio_ours_over_ref": t_ours / t_ref}  # fmt: skip
        rows[name]["within_1_point"] = rows[name]["difference_points"] <= 1.0
    return rows


def membership(model, members, nonmembers, device):
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased

    x = torch.cat([members.x, nonmembers.x])
    y = torch.cat([members.y, nonmembers.y])
    ours, t_ours = timed(lambda: metric_scores(training.logits_of(model, x, device), y)["correctness"])
    attack = MembershipInferenceBlackBoxRuleBased(art_classifier(model))
    theirs, t_ref = timed(lambda: attack.infer(x.numpy(), y.numpy()))
    return {"n": len(y), "same_verdicts": float((ours == theirs).mean()), "seconds_ours": t_ours, "seconds_art": t_ref,
            "member_rate_ours": float(ours.mean()), "member_rate_art": float(theirs.mean())}  # fmt: skip


def stealing(target, fresh, aux, test, device, budget=400, epochs=20, batch=64, seeds=(0, 1, 2)):
    """Mean agreement over a few seeds (one surrogate's agreement moves by a point or two with its seed)."""
    from art.attacks.extraction import CopycatCNN

    target_test = training.logits_of(target, test.x, device).argmax(1)
    ours, theirs, t_ours, t_ref = [], [], 0.0, 0.0
    for seed in seeds:
        rows, seconds = timed(lambda: ModelStealing((budget,), label_only=True, epochs=epochs, seed=seed)(target, fresh, aux, test, device))
        ours.append(rows[0][0]["agreement"])
        t_ours += seconds
        torch.manual_seed(seed)
        thief = fresh()
        thief.train()
        for p in thief.parameters():
            p.requires_grad_(True)
        art_thief = art_classifier(thief)
        art_thief._optimizer = torch.optim.AdamW(thief.parameters(), lr=3e-3)
        # the same one-cycle schedule as ours (which steps it per batch; ART steps a scheduler once per epoch)
        schedule = torch.optim.lr_scheduler.OneCycleLR(art_thief._optimizer, max_lr=3e-3, total_steps=epochs + 1, pct_start=0.15)
        art_thief.fit = functools.partial(art_thief.fit, scheduler=schedule)
        copycat = CopycatCNN(art_classifier(target), batch_size_fit=batch, batch_size_query=batch, nb_epochs=epochs, nb_stolen=budget)
        queries = aux.sample(budget, seed).x.numpy()
        stolen, seconds = timed(lambda: copycat.extract(queries, thieved_classifier=art_thief))
        theirs.append(float((torch.from_numpy(stolen.predict(test.x.numpy()).argmax(1)) == target_test).double().mean()))
        t_ref += seconds
    difference = float(100 * abs(np.mean(ours) - np.mean(theirs)))
    return {"budget": budget, "epochs": epochs, "seeds": list(seeds), "agreement_ours": float(np.mean(ours)),
            "agreement_art_copycat": float(np.mean(theirs)), "agreement_ours_per_seed": ours, "agreement_art_per_seed": theirs,
            "difference_points": difference, "within_2_points": difference <= 2.0,
            "seconds_ours": t_ours, "seconds_art": t_ref, "time_ratio_ours_over_ref": t_ours / t_ref}  # fmt: skip


def neural_cleanse(home, names, clean, device, steps=configs.BackdoorConfig.nc_steps):
    """Per model, and on a CPU per PyTorch thread count (1 and every core): verdicts and the speed-up of batching."""
    rows = {}
    thread_counts = sorted({1, os.cpu_count() or 1}) if device.type == "cpu" else [torch.get_num_threads()]
    before = torch.get_num_threads()
    for name in names:
        model = models.load_folder(home / name, device).classifier
        for threads in thread_counts:
            torch.set_num_threads(threads)
            batched, t_batched = timed(lambda: NeuralCleanse(steps, batch_size=16)(model, clean, 10, device))
            single, t_single = timed(lambda: NeuralCleanse(steps, batch_size=16, labels_per_pass=1)(model, clean, 10, device))
            key = name if device.type != "cpu" else f"{name} ({threads} threads)"
            rows[key] = {"flagged_batched": batched["flagged"], "flagged_one_label_at_a_time": single["flagged"],
                         "target_batched": batched["target_label"], "target_one_label_at_a_time": single["target_label"],
                         "same_verdict": batched["flagged"] == single["flagged"], "seconds_batched": t_batched,
                         "seconds_one_label_at_a_time": t_single, "speedup": t_single / t_batched}  # fmt: skip
    torch.set_num_threads(before)
    return rows


def strip(model, splits, trigger, target_label, device):
    from art.estimators.poison_mitigation.strip.strip import STRIPMixin

    pool = splits.test.sample(len(splits.test) - 1, SEED)
    calibration, evaluation, overlay = pool.take(range(0, 100)), pool.take(range(100, 200)), pool.take(range(200, len(pool)))
    triggered = trigger.apply(evaluation.x[evaluation.y != target_label])
    ours, t_ours = timed(lambda: STRIP(20, frr=0.01)(model, calibration, overlay, evaluation, device, triggered))

    class ArtStrip(STRIPMixin):
        nb_classes = 10

    softmax = lambda x: torch.softmax(training.logits_of(model, torch.from_numpy(x).float(), device), 1).numpy()  # noqa: E731
    reference = ArtStrip(predict_fn=softmax, num_samples=20, false_acceptance_rate=0.01)
    np.random.seed(SEED)

    def run_art():
        reference.mitigate(calibration.x.numpy())
        rejected = lambda x: (reference.predict(x.numpy()).sum(1) == 0)  # noqa: E731  (abstain = all zeros)
        return float(rejected(triggered).mean()), float(rejected(evaluation.x).mean())

    (art_detection, art_frr), t_ref = timed(run_art)
    return {"detection_rate_ours": ours["detection_rate"], "false_rejection_rate_ours": ours["false_rejection_rate"],
            "detection_rate_art": art_detection, "false_rejection_rate_art": art_frr, "seconds_ours": t_ours, "seconds_art": t_ref,
            "note": "ART blends images 50/50 and fits a normal to the clean entropies; ours adds and clips, and takes the empirical quantile"}  # fmt: skip


def main() -> None:
    settings = config.load()
    device = models.resolve_device(settings)
    home = settings.home / "zoo"
    zoo.build_zoo(home, log=lambda _: None)
    splits = data.digits()
    target = models.load_folder(home / TARGET, device)
    members = splits.train.take(range(target.training["train_size"]))
    report = {"hardware": models.hardware(device), "platform": platform.platform(), "torch": torch.__version__,
              "target_model": f"local:{TARGET}", "backdoored_model": f"local:{BACKDOORED}"}  # fmt: skip
    clf = target.classifier
    for p in clf.parameters():
        p.requires_grad_(False)
    report["adversarial"] = adversarial(clf, splits.test.sample(N_ADV, SEED), device)
    print("adversarial", json.dumps(report["adversarial"], indent=1), flush=True)
    report["membership"] = membership(clf, members.sample(500, SEED), splits.test.sample(500, SEED), device)
    print("membership", report["membership"], flush=True)

    def fresh():
        net = models.build({"architecture": "resnet18", "num_classes": 10, "model_args": zoo.TINY_ARCHS["resnet18"],
                            "pretrained_cfg": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3}})  # fmt: skip
        return net.to(device)

    report["stealing"] = stealing(clf, fresh, splits.train, splits.test, device)
    print("stealing", report["stealing"], flush=True)
    report["neural_cleanse"] = neural_cleanse(home, [BACKDOORED, TARGET, "digits-resnet-low"], splits.test.take(range(200)), device)
    print("neural_cleanse", report["neural_cleanse"], flush=True)
    backdoored = models.load_folder(home / BACKDOORED, device)
    record = backdoored.training["backdoor"]
    report["strip"] = strip(backdoored.classifier, splits, zoo.Trigger(**record["trigger"]), record["target_label"], device)
    print("strip", report["strip"], flush=True)
    out = ROOT / "benchmarks" / "results" / "attacks.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
