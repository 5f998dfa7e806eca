"""The SecurityNet table parser on the shared copy of the table and on copies with rows changed."""

from collections import Counter

import pytest

from sn_lake.catalog import securitynet as securitynet_catalog
from sn_lake.sources.securitynet import parse as securitynet


@pytest.fixture(scope="module")
def markdown(securitynet_table):
    return securitynet_table.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rows(markdown):
    return securitynet.parse_tables(markdown)


def by_key(rows):
    return {r.row_key: r for r in rows}


def test_three_tables_with_their_row_counts(rows):
    assert Counter(r.table for r in rows) == {"benchmark": 437, "security": 92, "new": 102}


def test_row_keys_are_unique_and_stable(rows, markdown):
    keys = [r.row_key for r in rows]
    assert len(set(keys)) == len(keys) == 631
    assert keys == [r.row_key for r in securitynet.parse_tables(markdown)]
    # the security table lists each AdversaryLossLandscape model three times, with different metrics
    name = "security/cifar-10/resnet_periodic_cosine_eps8_wd1e-3_max16_100"
    repeats = [by_key(rows)[k] for k in (name, f"{name}~2", f"{name}~3")]
    assert [r.values["train_accuracy"] for r in repeats][:2] == [0.8696, 0.873]
    assert len({r.line for r in repeats}) == 3


def test_values_are_typed_and_links_unwrapped(rows):
    r = by_key(rows)["benchmark/cifar-10/resnet20_cifar10"]
    v = r.values
    assert (v["model_name"], v["model_type"], v["data_name"], v["num_classes"], v["training_size"]) == (
        "resnet20_cifar10",
        "resnet",
        "CIFAR-10",
        10,
        50000,
    )
    assert (v["train_accuracy"], v["test_accuracy"], v["overfit_gap"]) == (0.98576, 0.9384, 0.04736)
    assert (v["wrn_stealing_accuracy"], v["imagenet_stealing_agreement"]) == (0.6203, 0.7127)
    assert (v["venue"], v["venue_type"], v["year"], v["countries"], v["n_authors"], v["purpose"]) == (
        "CVPR",
        "CV",
        2016,
        "USA",
        4,
        "benchmark",
    )
    assert v["paper_url"] == "https://arxiv.org/abs/1512.03385"
    assert v["weights_url"] == "https://github.com/osmr/imgclsmob/tree/master/pytorch"
    assert r.issues == [] and r.excluded is None


def test_medmnist_sentinel_zeros_are_null_with_reasons(rows):
    medmnist = [r for r in rows if r.table == "benchmark" and r.values["data_category"] == "medical"]
    assert len(medmnist) == 174
    for r in medmnist:
        assert r.values["train_accuracy"] is None and r.values["overfit_gap"] is None
        assert r.values["test_accuracy"] > 0
        rules = {(i.rule, i.field) for i in r.issues}
        assert ("securitynet.null.sentinel_zero", "train_accuracy") in rules
        assert ("securitynet.null.derived_from_sentinel", "overfit_gap") in rules
    first = by_key(rows)["benchmark/adrenalmnist3d/resnet18_acs_1.pth"]
    assert first.values["test_accuracy"] == 0.731544 and first.values["stealing_accuracy"] == 0.59396
    assert first.values["correctness_auc"] is None and first.values["wrn_stealing_accuracy"] is None


def test_nan_is_null_with_reason(rows):
    r = by_key(rows)["security/imagenet1k/resnet18_l2_eps0.ckpt"]
    assert r.values["stealing_accuracy"] is None and r.values["stealing_agreement"] is None
    assert {i.rule for i in r.issues} == {"securitynet.null.sentinel_nan"}
    assert r.values["m_entropy_auc"] == 0.559286


def test_new_models_rows_and_exclusions(rows):
    new = [r for r in rows if r.table == "new"]
    excluded = Counter(r.excluded.rule for r in new if r.excluded)
    assert excluded == {"securitynet.excluded.not_image_classifier": 13, "securitynet.excluded.no_weights": 5}
    assert all(r.excluded is None for r in rows if r.table != "new")
    vim = by_key(rows)["new/efficient-visual-representation-learning-with-bidirectional-state-space-model"]
    assert (vim.values["venue"], vim.values["year"], vim.values["weights_url"]) == (
        "ICML",
        2024,
        "https://github.com/hustvl/Vim?tab=readme-ov-file",
    )
    # one row's paper link is text, not a URL: NULL with the reason
    bad = [r for r in rows if any(i.rule == "securitynet.null.invalid_value" for i in r.issues)]
    assert [(r.table, r.values["paper_url"]) for r in bad] == [("new", None)]


def edit(markdown: str, line_starts_with: str, column: int, value: str) -> str:
    """The markdown with one cell (0-based column) of the first line starting with ``line_starts_with`` replaced."""
    lines = markdown.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(line_starts_with))
    cells = lines[index].strip().strip("|").split("|")
    cells[column] = f" {value} "
    lines[index] = "|" + "|".join(cells) + "|"
    return "\n".join(lines) + "\n"


def test_changed_rows_are_read_as_changed_and_nothing_is_lost(markdown):
    text = edit(markdown, "| resnet20_cifar10 ", 7, "abc")  # Test Accuracy not a number
    text = edit(text, "| resnet56_cifar10 ", 6, "1.5")  # Train Accuracy out of range
    text = edit(text, "| resnet110_cifar10 ", 19, "0")  # Year sentinel
    text = edit(text, "| densenet169 ", 7, "0.5")  # a changed metric
    text = edit(text, "| resnet164bn_cifar10 ", 22, "Security")  # purpose in another case
    text = edit(text, "| resnet272bn_cifar10 ", 22, "fun")  # a purpose that is none of the three
    lines = text.splitlines()
    lines = [
        line.rsplit("|", 2)[0] + "|" if line.startswith("| preresnet20_cifar10 ") else line for line in lines
    ]  # a cell short
    row = next(line for line in lines if line.startswith("| densenet169 "))
    lines.insert(lines.index(row) + 1, row)  # the same row twice
    lines += [
        "",
        "## Extra Models",
        "| Model Name | Weights |",
        "|:--|:--|",
        "| mystery | [Link](https://example.org/w) |",
    ]
    rows = securitynet.parse_tables("\n".join(lines))
    keys = by_key(rows)
    assert len(rows) == 631 + 2 and len(keys) == len(rows)
    assert keys["benchmark/cifar-10/resnet20_cifar10"].values["test_accuracy"] is None
    assert [i.rule for i in keys["benchmark/cifar-10/resnet20_cifar10"].issues] == ["securitynet.null.invalid_value"]
    assert [i.rule for i in keys["benchmark/cifar-10/resnet56_cifar10"].issues] == ["securitynet.null.out_of_range"]
    assert keys["benchmark/cifar-10/resnet110_cifar10"].values["year"] is None
    assert keys["benchmark/cifar-10/resnet164bn_cifar10"].values["purpose"] == "security"
    assert keys["benchmark/cifar-10/resnet272bn_cifar10"].values["purpose"] is None
    assert [i.rule for i in keys["benchmark/cifar-10/resnet272bn_cifar10"].issues] == [
        "securitynet.null.unknown_purpose"
    ]
    assert keys["benchmark/imagenet1k/densenet169"].values["test_accuracy"] == 0.5
    assert keys["benchmark/imagenet1k/densenet169~2"].values["test_accuracy"] == 0.5
    assert keys["benchmark/cifar-10/preresnet20_cifar10"].excluded.rule == "securitynet.excluded.malformed_row"
    assert keys["extra-models/unknown-data/mystery"].excluded.rule == "securitynet.excluded.unknown_table"
    excluded = sum(r.excluded is not None for r in rows)
    assert excluded == 18 + 2


def test_results_rows_map_the_published_metrics(rows):
    snap = securitynet.Snapshot("0" * 64, None, rows, {}, {})
    results = securitynet_catalog.result_rows(snap)
    task = results["results.task_accuracy"]
    assert task.height == 437 + 92  # every model row states a test accuracy
    assert set(task["origin"]) == {"published:securitynet"}
    stealing = results["results.model_stealing"]
    resnet20 = stealing.filter(model_id="securitynet:benchmark/cifar-10/resnet20_cifar10").sort(
        "surrogate_arch", "aux_dataset", nulls_last=True
    )
    assert resnet20.select("aux_dataset", "surrogate_arch", "stealing_accuracy", "agreement").rows() == [
        (None, "wide_resnet", 0.6203, 0.6226),
        ("imagenet-1k", None, 0.703, 0.7127),
        (None, None, 0.7933, 0.8018),
    ]
    # default stealing where stated (437 + 72), WRN and ImageNet settings only where not the sentinel
    assert stealing.height == (437 + 72) + (437 - 305) + (437 - 291)
    mia = results["results.membership_inference"]
    assert set(mia["attack"]) == {"correctness", "m_entropy"}
    assert mia.height == 2 * (437 - 187 + 92)
