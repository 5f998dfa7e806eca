"""One step per model: the five evaluation assets are computed by one multi-asset step (assets/evaluation.py:
``evaluate_model``), so the families share one model load and one dataset decode under every executor, including
Dagster's default one, which runs each step in its own process (the sensor's, the daemon's and the UI's runs).

A family that fails leaves the others to run; a family whose input failed (the transfer attack reads the stealing
surrogate) is left out; the step fails at the end and names each family that did not materialize.
"""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from test_evaluate_pipeline import QUICK
from zoo_fixtures import test_zoo, zoo_settings  # noqa: F401  (fixtures)

from assets import evaluation
from sn_lake import cli
from sn_lake.evaluate import families, results

ROOT = Path(__file__).resolve().parent.parent
MODEL = "local:digits-vit-extreme"
EVALUATION = {f.asset for f in families.FAMILIES.values()}


def _run_events(instance: dg.DagsterInstance) -> tuple[dg.DagsterRun, list]:
    (run,) = instance.get_runs(limit=1)
    return run, instance.all_logs(run.run_id)


@pytest.mark.slow
def test_dagsters_default_executor_evaluates_a_model_in_one_step_with_one_load(zoo_settings, tmp_path):
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("models", [MODEL])
    run_config = tmp_path / "run_config.yaml"
    run_config.write_text(yaml.safe_dump({"ops": evaluation.run_config(QUICK)}))
    env = {**os.environ, "SN_LAKE_TORCH_THREADS": "1"}
    command = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "assets.definitions"]
    command += ["--select", "group:evaluation", "--partition", MODEL, "-c", str(run_config)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    with dg.DagsterInstance.get() as instance:
        run, events = _run_events(instance)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    # the default executor ran its steps as subprocesses, and there was one step: every family in it
    assert any("Launching subprocess" in (e.user_message or "") for e in events)
    steps = {e.step_key for e in events if e.dagster_event and e.dagster_event.event_type_value == "STEP_SUCCESS"}
    assert steps == {"evaluate_model"}
    materialized = [
        e.dagster_event.asset_key.to_user_string()
        for e in events
        if e.is_dagster_event and e.dagster_event.is_step_materialization
    ]
    assert sorted(materialized) == sorted(EVALUATION)
    summary = [e.user_message for e in events if "families evaluated in one step" in (e.user_message or "")]
    assert summary == [f"{MODEL}: 5 families evaluated in one step with 1 model load(s) and 1 dataset decode(s)"]
    for family in families.NAMES:
        assert len(results.files(zoo_settings, family)) == 1, family


@pytest.mark.slow
def test_a_failing_family_leaves_the_others_and_leaves_out_what_reads_it(zoo_settings):
    broken = {**QUICK, "eval_model_stealing": {"config": {**QUICK["eval_model_stealing"]["config"]}}}
    broken["eval_model_stealing"]["config"]["surrogate_arch"] = "no_such_architecture"  # the config's error
    assert not cli.evaluate_models([MODEL], list(families.NAMES), broken)

    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs()
        (evaluation_run,) = [r for r in runs if "eval_task_accuracy" in {k.to_user_string() for k in r.asset_selection}]
        events = instance.all_logs(evaluation_run.run_id)
    assert evaluation_run.status == dg.DagsterRunStatus.FAILURE
    materialized = {
        e.dagster_event.asset_key.to_user_string()
        for e in events
        if e.is_dagster_event and e.dagster_event.is_step_materialization
    }
    assert materialized == {"eval_task_accuracy", "eval_membership_inference", "eval_backdoor_detection"}
    (failure,) = [e for e in events if e.is_dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE"]
    reason = failure.dagster_event.step_failure_data.user_failure_data.description
    assert "model_stealing failed: ValueError: Expected a surrogate_arch timm can build" in reason
    assert "adversarial left out: it reads the output of model_stealing, which failed" in reason
    for family in ("task_accuracy", "membership_inference", "backdoor_detection"):
        assert len(results.files(zoo_settings, family)) == 1, family
    assert results.files(zoo_settings, "model_stealing") == results.files(zoo_settings, "adversarial") == []
    # a wrong run config is not the model's lasting reason: nothing is recorded against the model
    assert results.failures(zoo_settings).is_empty()
