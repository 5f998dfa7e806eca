"""The attacks on real zoo models: known answers, monotonicity, and the detectors against planted backdoors.

Sample counts and optimisation steps are small; every assertion is a property that holds exactly
(identities, clipping, monotonicity by construction) or with a wide margin at the fixed seeds.
"""

import inspect

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

from sn_lake.evaluate import configs, data, models
from sn_lake.evaluate.attacks.accuracy import TaskAccuracy
from sn_lake.evaluate.attacks.adversarial import FGSM, PGD, Square, Transfer, robustness
from sn_lake.evaluate.attacks.backdoor import NEO, STRIP, NeuralCleanse, anomaly_indices, stream_verdict
from sn_lake.evaluate.attacks.membership import (
    LiRAOffline,
    MetricAttacks,
    auc,
    metric_scores,
    tpr_at_fpr,
)
from sn_lake.evaluate.attacks.membership import (
    roc_curve as our_roc,
)
from sn_lake.evaluate.attacks.stealing import ModelStealing
from sn_lake.evaluate.pipeline import Context
from sn_lake.evaluate.zoo import Trigger

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return data.digits()


def zoo_model(zoo_settings, name):
    return models.load(f"local:{name}", zoo_settings, CPU)


def members_of(model, splits):
    return splits.train.take(range(model.training["train_size"]))


# --- membership inference: scores and ROC statistics ---------------------------------------------


def test_metric_scores_match_their_definitions_in_float64():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float32)
    labels = torch.tensor([0, 1, 2])
    scores = metric_scores(logits, labels)
    p = np.exp(logits.double().numpy()) / np.exp(logits.double().numpy()).sum(1, keepdims=True)
    p_y = p[np.arange(3), labels.numpy()]
    assert scores["confidence"] == pytest.approx(p_y, abs=1e-15)
    assert scores["loss"] == pytest.approx(np.log(p_y), abs=1e-12)
    assert scores["entropy"] == pytest.approx((p * np.log(p)).sum(1), abs=1e-12)
    mentr = [
        -(1 - p_y[i]) * np.log(p_y[i]) - sum(p[i, j] * np.log(1 - p[i, j]) for j in range(3) if j != labels[i])
        for i in range(3)
    ]
    assert scores["modified_entropy"] == pytest.approx(-np.array(mentr), abs=1e-12)
    assert scores["correctness"].tolist() == [1.0, 0.0, 0.0]  # a three-way tie is not a correct top-1 of label 2
    assert all(v.dtype == np.float64 for v in scores.values())


def test_auc_and_tpr_at_fpr_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0.5, 1, 400).round(1), rng.normal(0, 1, 300).round(1)  # rounded: many ties
    truth = np.r_[np.ones(400), np.zeros(300)]
    assert auc(members, nonmembers) == pytest.approx(roc_auc_score(truth, np.r_[members, nonmembers]), abs=1e-12)
    fpr, tpr, _ = roc_curve(truth, np.r_[members, nonmembers])
    ours_fpr, ours_tpr = our_roc(members, nonmembers)
    for target in (0.01, 0.05, 0.2):
        assert tpr_at_fpr(ours_fpr, ours_tpr, target) == pytest.approx(tpr[fpr <= target].max(), abs=1e-12)


def test_correctness_auc_is_half_plus_half_the_gap_on_whole_splits(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-convnext-high")
    members = members_of(model, digits)
    accuracy = TaskAccuracy()(model.classifier, members, digits.test, CPU)
    assert accuracy["overfit_gap"] > 0.1  # a zoo model built to overfit
    rows = MetricAttacks(("correctness",), balance=False, n_bootstrap=0)(model.classifier, members, digits.test, CPU)
    assert rows[0]["n_members"] == len(members) and rows[0]["n_nonmembers"] == len(digits.test)
    assert rows[0]["auc"] == pytest.approx(0.5 + accuracy["overfit_gap"] / 2, abs=1e-12)


def test_metric_attacks_report_intervals_and_log_scale_roc(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-vit-extreme")
    rows = MetricAttacks(max_per_side=50, n_bootstrap=50)(model.classifier, members_of(model, digits), digits.test, CPU)
    assert [r["attack"] for r in rows] == ["correctness", "confidence", "entropy", "modified_entropy", "loss"]
    for row in rows:
        assert row["n_members"] == row["n_nonmembers"] == 50  # balanced
        assert row["auc_ci_low"] <= row["auc"] <= row["auc_ci_high"]
        assert 0 <= row["tpr_at_01pct_fpr"] <= row["tpr_at_1pct_fpr"] <= 1
        assert row["roc_fpr"][0] == pytest.approx(1e-3) and row["roc_fpr"][-1] == pytest.approx(1.0)
        assert np.all(np.diff(row["roc_tpr"]) >= 0) and row["roc_tpr"][-1] == 1.0
    by_name = {r["attack"]: r for r in rows}
    assert by_name["modified_entropy"]["auc"] > 0.8  # train accuracy 1.0 against ~0.4 test accuracy


def test_lira_offline_with_reference_models_separates_an_overfit_model(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-vit-extreme")
    ctx = Context(zoo_settings, model, digits, CPU)
    reference = ctx.outside_members.sample(200, 0)
    rows = LiRAOffline(n_reference=2, epochs=4, max_per_side=50, n_bootstrap=20)(
        model.classifier, lambda: ctx.fresh("same"), members_of(model, digits), digits.test, reference, CPU
    )
    assert rows[0]["attack"] == "lira_offline" and rows[0]["n_reference"] == 2
    assert rows[0]["auc"] > 0.7


# --- adversarial examples --------------------------------------------------------------------------


def test_attacks_at_epsilon_zero_change_nothing(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-convnext-high").classifier
    x, y = digits.test.x[:16], digits.test.y[:16]
    for attack in (PGD(0.0, steps=3), FGSM(0.0), Square(0.0, n_queries=5)):
        assert torch.equal(attack(model, x, y), x)


def test_robust_accuracy_never_above_clean_and_drop_grows_with_epsilon(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-convnext-badnets-tl").classifier
    surrogate = zoo_model(zoo_settings, "digits-convnext-high").classifier
    attacks = {
        ("white-box", "fgsm"): lambda eps: FGSM(eps),
        ("white-box", "pgd"): lambda eps: PGD(eps, steps=3),
        ("black-box-query", "square"): lambda eps: Square(eps, n_queries=20),
        ("black-box-transfer", "pgd"): lambda eps: Transfer(surrogate, PGD(eps, steps=3)),
    }
    rows = robustness(model, digits.test.sample(48, 0), attacks, [0.0, 2 / 255, 8 / 255, 32 / 255], CPU)
    assert len(rows) == 16
    for key in attacks:
        series = [r for r in rows if (r["setting"], r["attack"]) == key]
        assert [r["epsilon"] for r in series] == sorted(r["epsilon"] for r in series)
        assert series[0]["accuracy_drop"] == 0.0  # epsilon 0
        drops = [r["accuracy_drop"] for r in series]
        assert all(a <= b for a, b in zip(drops, drops[1:], strict=False))
        assert all(r["robust_accuracy"] <= r["clean_accuracy"] for r in series)
    pgd = [r for r in rows if r["attack"] == "pgd" and r["setting"] == "white-box"]
    assert pgd[-1]["robust_accuracy"] < pgd[-1]["clean_accuracy"] - 0.3  # 32/255 breaks an undefended model


# --- model stealing --------------------------------------------------------------------------------


def test_stealing_reports_accuracy_and_agreement_per_budget(zoo_settings, digits):
    model = zoo_model(zoo_settings, "digits-convnext-badnets-br")
    ctx = Context(zoo_settings, model, digits, CPU)
    for label_only in (False, True):
        rows, surrogates = ModelStealing((50, 200), label_only=label_only, epochs=15)(
            model.classifier, lambda: ctx.fresh("resnet18"), digits.train, digits.test.sample(200, 0), CPU
        )
        assert [r["query_budget"] for r in rows] == [50, 200] and set(surrogates) == {50, 200}
        assert all(r["label_only"] is label_only for r in rows)
        assert rows[-1]["agreement"] > 0.4 and rows[-1]["stealing_accuracy"] > 0.4, rows  # 1/10 is chance


# --- backdoor detection ----------------------------------------------------------------------------


def test_anomaly_index_is_the_mad_score_of_the_smallest_norm():
    norms = np.array([10.0, 11, 12, 9, 10.5, 2, 11.5, 10, 9.5, 12.5])
    median, mad = np.median(norms), 1.4826 * np.median(np.abs(norms - np.median(norms)))
    assert anomaly_indices(norms)[5] == pytest.approx((median - 2) / mad)


@pytest.fixture(scope="module")
def neural_cleanse_verdicts(test_zoo, tmp_path_factory):
    root = test_zoo
    verdicts = {}
    for name in (
        "digits-convnext-badnets-tl",
        "digits-convnext-badnets-br",
        "digits-convnext-high",
        "digits-vit-extreme",
    ):
        model = models.load_folder(root / name, CPU)
        verdicts[name] = (
            model.training.get("backdoor"),
            NeuralCleanse(steps=150, batch_size=16)(model.classifier, data.digits().test.take(range(200)), 10, CPU),
        )
    return verdicts


def test_neural_cleanse_flags_the_backdoored_models_and_names_their_target(neural_cleanse_verdicts):
    for name, (backdoor, verdict) in neural_cleanse_verdicts.items():
        if backdoor:
            assert verdict["flagged"], (name, verdict)
            assert verdict["target_label"] == backdoor["target_label"], (name, verdict)
            assert len(verdict["per_label_norms"]) == 10


def test_neural_cleanse_mostly_leaves_clean_models_alone(neural_cleanse_verdicts):
    clean = [v for b, v in neural_cleanse_verdicts.values() if not b]
    assert sum(v["flagged"] for v in clean) <= len(clean) // 2


def backdoored_inputs(model, digits):
    backdoor = model.training["backdoor"]
    trigger = Trigger(**backdoor["trigger"])
    pool = digits.test.sample(len(digits.test) - 1, 0)
    calibration, evaluation, overlay = pool.take(range(0, 60)), pool.take(range(60, 120)), pool.take(range(120, 400))
    victims = evaluation.x[evaluation.y != backdoor["target_label"]]
    return trigger, calibration, evaluation, overlay, trigger.apply(victims)


def test_strip_separates_triggered_inputs_from_clean_ones(zoo_settings, digits):
    for name in ("digits-convnext-badnets-tl", "digits-convnext-badnets-br"):
        model = zoo_model(zoo_settings, name)
        _, calibration, evaluation, overlay, triggered = backdoored_inputs(model, digits)
        row = STRIP(n_superimpose=10, frr=0.05)(model.classifier, calibration, overlay, evaluation, CPU, triggered)
        assert row["detection_rate"] >= 0.8, (name, row)
        assert row["false_rejection_rate"] <= 0.2, (name, row)
        assert row["flagged"] and row["score"] > 0.3, (name, row)  # the triggered half of its input stream is caught


def test_neo_locates_the_trigger_of_backdoored_models(zoo_settings, digits):
    for name in ("digits-convnext-badnets-tl", "digits-convnext-badnets-br"):
        model = zoo_model(zoo_settings, name)
        trigger, _, evaluation, overlay, triggered = backdoored_inputs(model, digits)
        row = NEO(window=6, stride=3)(
            model.classifier, evaluation.take(range(20)), overlay, CPU, triggered[:20], trigger.mask(32, 32)
        )
        assert row["trigger_located_rate"] >= 0.7, (name, row)
        assert row["false_rejection_rate"] <= 0.2, (name, row)
        assert row["flagged"], (name, row)


def test_input_level_verdict_is_taken_over_the_clean_and_triggered_stream():
    clean = np.array([False] * 19 + [True])  # 5% of clean inputs rejected: not more than flag_rate
    assert stream_verdict("strip", clean, None, 0.05) == {
        "detector": "strip",
        "flagged": False,
        "score": 0.05,
        "false_rejection_rate": 0.05,
    }
    row = stream_verdict("neo", clean, np.array([True] * 10 + [False] * 10), 0.05)
    assert row["flagged"] and row["score"] == pytest.approx(11 / 40)
    assert row["detection_rate"] == 0.5 and row["false_rejection_rate"] == 0.05
    assert (
        stream_verdict("strip", np.array([False] * 10), np.array([False] * 10), 0.05)["flagged"] is False
    )  # a backdoor it misses


# --- one home for the defaults --------------------------------------------------------------------

# Per attack class, the configs.py value each defaulted argument must take; the arguments listed under
# ``structural`` choose a variant of the method rather than a budget, so they have no run config.
_STEAL, _MIA = configs.StealingConfig(), configs.MembershipConfig()
_ADV, _BD = configs.AdversarialConfig(), configs.BackdoorConfig()
DEFAULTS_FROM_CONFIGS = {
    ModelStealing: {
        "query_budgets": _STEAL.query_budgets,
        "label_only": _STEAL.label_only,
        "epochs": _STEAL.epochs,
        "lr": configs.STEALING_LR,
        "seed": _STEAL.seed,
    },
    MetricAttacks: {
        "attacks": _MIA.attacks,
        "max_per_side": _MIA.max_per_side,
        "n_bootstrap": _MIA.n_bootstrap,
        "seed": _MIA.seed,
    },
    LiRAOffline: {
        "n_reference": _MIA.lira_reference_models,
        "epochs": _MIA.lira_epochs,
        "lr": configs.LIRA_LR,
        "max_per_side": _MIA.max_per_side,
        "n_bootstrap": _MIA.n_bootstrap,
        "seed": _MIA.seed,
    },
    PGD: {"steps": _ADV.pgd_steps, "alpha": _ADV.pgd_alpha, "seed": _ADV.seed},
    Square: {"n_queries": _ADV.square_queries, "p_init": configs.SQUARE_P_INIT, "seed": _ADV.seed},
    NeuralCleanse: {
        "steps": _BD.nc_steps,
        "lr": _BD.nc_lr,
        "lambda_l1": _BD.nc_lambda,
        "batch_size": _BD.nc_batch_size,
        "threshold": _BD.nc_threshold,
        "success": configs.NC_SUCCESS,
        "patience": configs.NC_PATIENCE,
        "lambda_up": configs.NC_LAMBDA_UP,
        "seed": _BD.seed,
    },
    STRIP: {"n_superimpose": _BD.strip_superimpose, "frr": _BD.strip_frr, "flag_rate": _BD.flag_rate, "seed": _BD.seed},
    NEO: {
        "window": _BD.neo_window,
        "stride": _BD.neo_stride,
        "n_verify": configs.NEO_VERIFY,
        "confirm_rate": configs.NEO_CONFIRM_RATE,
        "flag_rate": _BD.flag_rate,
        "seed": _BD.seed,
    },
}
STRUCTURAL = {PGD: {"random_start", "stop_when_fooled"}, MetricAttacks: {"balance"}, NeuralCleanse: {"labels_per_pass"}}


@pytest.mark.parametrize("attack", list(DEFAULTS_FROM_CONFIGS), ids=lambda c: c.__name__)
def test_attack_defaults_are_the_ones_in_configs(attack):
    defaults = {
        name: p.default
        for name, p in inspect.signature(attack.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    expected = DEFAULTS_FROM_CONFIGS[attack]
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in defaults.items() if k in expected} == expected
    # a defaulted argument that is neither in configs.py nor structural would be a second home for a default
    assert set(defaults) - set(expected) - STRUCTURAL.get(attack, set()) == set()
