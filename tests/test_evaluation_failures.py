"""A model the rule admits can still fail when its files arrive. Through a loopback Hub: a good transformers model
and one whose listing looks just as good but whose config.json contradicts its safetensors (3 labels, a 10-class
head). Both go to `sn-lake evaluate`: the good one is evaluated, the other's failure is recorded with its reason in
results.evaluation_failures, catalog.evaluability then shows it as not evaluable at that revision, the coverage
view counts it as failed, and the sensor's list no longer holds it, so it is never queued again.
"""

import json
import shutil

import pytest
import torch
from fake_hub import FakeHub
from fake_hub_datasets import digits_repo
from hf_fixtures import add_to_hub, hf_models  # noqa: F401  (fixture)

from sn_lake import cli, config, search, warehouse

DIGITS_REPO = "sn-lake/hub-digits"


def _contradicting(folder, dest):
    """``folder`` with a config.json that declares 3 labels over the 10-class head its weights hold."""
    shutil.copytree(folder, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg["id2label"] = {str(i): name for i, name in enumerate(["zero", "one", "two"])}
    cfg["label2id"] = {name: int(i) for i, name in cfg["id2label"].items()}
    (dest / "config.json").write_text(json.dumps(cfg))
    return dest


@pytest.mark.slow
def test_a_model_that_fails_after_admission_is_recorded_and_never_queued_again(
    settings, hf_models, tmp_path, monkeypatch
):
    torch.set_num_threads(1)
    fixtures = {"resnet": hf_models["resnet"], "resnet-liar": _contradicting(hf_models["resnet"], tmp_path / "liar")}
    with FakeHub([]) as hub:
        hub.add_dataset(DIGITS_REPO, digits_repo(train_shards=2, test_shards=1))
        repos = add_to_hub(hub, fixtures, org="uploads", dataset=DIGITS_REPO)
        good, liar = (f"huggingface:{repos[name]}" for name in ("resnet", "resnet-liar"))
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert cli.materialize("key:raw_huggingface or key:catalog_models or key:catalog_evaluability")
        settings = config.load()
        with warehouse.connect(settings, read_only=True) as con:
            assert set(search.evaluable_models(con)) == {good, liar}  # the listing cannot tell them apart

        assert not cli.evaluate_models([good, liar], ["task_accuracy"]), "a failed model must fail the command"

    with warehouse.connect(settings, read_only=True) as con:
        rows = con.execute("SELECT model_id FROM results.task_accuracy WHERE origin = 'computed'").fetchall()
        evaluated = {m for (m,) in rows}
        failures = con.execute("SELECT model_id, revision, family, reason FROM results.evaluation_failures").fetchall()
        verdict = con.execute(
            "SELECT evaluable, reason, revision FROM catalog.evaluability WHERE model_id = ?", [liar]
        ).fetchone()
        (revision,) = con.execute("SELECT revision FROM catalog.models WHERE model_id = ?", [liar]).fetchone()
        coverage = con.execute(
            "SELECT n_models, n_evaluable, n_evaluated, n_failed FROM analytics.evaluation_coverage "
            "WHERE source = 'huggingface' AND library = 'transformers' AND dataset = ?",
            [DIGITS_REPO],
        ).fetchone()
        queued = search.evaluable_models(con)

    assert evaluated == {good}, "the good model's run must not be affected by the other's failure"
    ((model_id, failed_revision, family, reason),) = failures
    assert (model_id, failed_revision, family) == (liar, revision, "task_accuracy")
    assert "3" in reason and "10" in reason, reason  # names the contradiction: 3 labels against a 10-class head
    assert verdict == (False, f"evaluation failed: {reason}", revision)
    assert coverage == (2, 1, 1, 1)
    assert liar not in queued and good in queued
