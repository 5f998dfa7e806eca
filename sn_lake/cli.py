"""The ``sn-lake`` command: drives Dagster runs and reads the warehouse.

This is the one module of ``sn_lake`` that imports Dagster and ``assets/``; it does so inside the
commands that need them, so ``sn-lake sql`` starts fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
import warnings
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sn_lake import config, lake, run_guard, search, warehouse
from sn_lake.catalog import CRAWLS, SOURCES
from sn_lake.catalog.contract import crawl_asset
from sn_lake.evaluate import families

# source name -> the asset key of its crawl, for every crawl of the registry (sn_lake.catalog.CRAWLS)
CRAWL_ASSETS = {name: crawl_asset(name) for name in CRAWLS}
# source -> the `sn-lake crawl` options its crawl asset takes
CRAWL_OPTIONS = {
    "huggingface": {"limit", "full", "max_requests", "max_seconds"},
    "papers": {"full"},
    "weights": {"full"},
}
CRAWL_FLAGS = {"limit": "--limit", "full": "--full", "max_requests": "--max-requests", "max_seconds": "--max-minutes"}


def _dagster_home() -> str:
    """DAGSTER_HOME as an absolute path, defaulting to the profile's folder (dagster_home/ or
    dagster_home/distributed/)."""
    settings = config.load()
    home = os.environ.get("DAGSTER_HOME")
    if not home or (settings.profile == "distributed" and os.path.abspath(home) == str(config.DAGSTER_HOME_DIR)):
        home = str(settings.dagster_home_dir)  # `make` exports the embedded dagster_home/; the profile wins
    home = os.path.abspath(home)
    os.environ["DAGSTER_HOME"] = home
    if settings.profile == "distributed":
        os.environ.setdefault("SN_LAKE_DAGSTER_PG_URL", config.DEFAULT_DAGSTER_PG_URL)
    return home


def load_definitions():
    """The code location's Definitions, loaded the way dagster_home/workspace.yaml loads them."""
    root = str(config.PROJECT_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    from assets.definitions import defs

    return defs


# The code location (dagster_home/workspace.yaml loads it by file, working directory: the project root), and the
# module-level function of it that returns its asset job: Dagster's public build_reconstructable_job points there.
CODE_LOCATION = config.PROJECT_ROOT / "assets" / "definitions.py"
CODE_LOCATION_MODULE, CODE_LOCATION_JOB = "assets.definitions", "code_location_job"


def _reconstructable_asset_job(selection):
    """The code location's asset job, reconstructable (what an executor sends to other processes or Celery workers),
    its definition, and the asset keys of ``selection`` (Dagster's selection syntax, or an AssetSelection)."""
    import dagster as dg

    defs = load_definitions()  # puts the project root on sys.path, so the module imports here as in the workers
    from assets.definitions import code_location_job

    job = dg.build_reconstructable_job(
        CODE_LOCATION_MODULE, CODE_LOCATION_JOB, reconstructor_working_directory=str(config.PROJECT_ROOT)
    )
    chosen = dg.AssetSelection.from_string(selection) if isinstance(selection, str) else selection
    return job, code_location_job(), chosen.resolve(defs.resolve_asset_graph())


def materialize(selection, ops_config: dict | None = None, partition_key: str | None = None) -> bool:
    """Materialize an asset selection (Dagster's selection syntax, or an AssetSelection) against the DAGSTER_HOME
    instance.

    ``ops_config`` is run config per asset, e.g. ``{"raw_huggingface": {"config": {"limit": 100}}}``;
    ``partition_key`` picks the partition of partitioned assets (e.g. a model id of ``models``). The run executes the
    code location's job with its executor (the Celery workers in the distributed profile); Dagster's default executor
    is run in-process here, as one ``sn-lake`` command needs no step subprocesses (each would import torch again).
    """
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    _dagster_home()
    job, job_def, asset_keys = _reconstructable_asset_job(selection)
    run_config = {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        **({"ops": ops_config} if ops_config else {}),
    }
    if job_def.executor_def is dg.multi_or_in_process_executor:
        run_config["execution"] = {"config": {"in_process": {}}}
    with dg.DagsterInstance.get() as instance:
        tags = {}
        if partition_key is not None:
            with dg.partition_loading_context(dynamic_partitions_store=instance) as context:
                job_def.validate_partition_key(partition_key, selected_asset_keys=asset_keys, context=context)
            tags = job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=asset_keys)
        free_dead_runs(instance)
        tags = {**tags, **run_guard.this_process(), INVOCATION_TAG: uuid.uuid4().hex}
        with run_guard.SignalWatch() as signals:
            watch = _RunWatch(tags[INVOCATION_TAG], signals)
            watch.start()
            try:
                result = dg.execute_job(
                    job, instance=instance, run_config=run_config, tags=tags, asset_selection=sorted(asset_keys)
                )
            except dg.DagsterInvalidConfigError as exc:
                print(f"sn-lake: the run config does not fit the assets, nothing ran: {exc}", file=sys.stderr)
                return False
            finally:
                watch.done.set()
                watch.join()
                signals.wait(0)  # a signal the watcher had no time to read
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            shown = {k: v.value for k, v in mat.metadata.items() if not isinstance(v.value, str) or len(v.value) < 80}
            print(f"materialized {mat.asset_key.to_user_string()}: {shown}")
        status = "succeeded" if result.success else "FAILED"
        print(f"run {result.run_id} {status} (see it with `sn-lake ui`)")
        if signals.received:  # a step saw the interrupt and the run failed: stop here, not at the next run
            raise KeyboardInterrupt(f"signal {'SIGTERM' if signal.SIGTERM in signals.received else 'SIGINT'}")
        return result.success


# --- runs that outlive their process (SIGKILL, OOM killer), steps waiting for a pool, Ctrl-C and SIGTERM ---
INVOCATION_TAG = "sn_lake/invocation"  # one `materialize` call: how its watcher finds the run execute_job creates
POOL_POLL_S = 1.0  # how often a run's watcher looks at the pools (a blocked step is reported within about this)
INTERRUPT_GRACE_S = 5.0  # after SIGINT/SIGTERM, how long the run may take to fail by itself before it is ended


def _run_in_progress(run) -> bool:
    import dagster as dg

    return run.status in (
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    )


def _dead_process(run) -> str | None:
    """Why ``run`` (in progress) can no longer progress: the sn-lake process that executed it on this host is gone.

    Retries and re-executions copy their parent's tags but run elsewhere (the daemon, the UI): never judged here.
    """
    if run_guard.PARENT_RUN_TAG in run.tags or run_guard.is_alive(run.tags) is not False:
        return None
    return f"the sn-lake process that ran it (pid {run.tags[run_guard.PID_TAG]}) is gone (killed, or out of memory)"


def _slot_holders(instance) -> dict[str, set[str]]:
    """Run id -> the pools where it holds or waits for a slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    holders: dict[str, set[str]] = {}
    for pool, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        for run_id in [c.run_id for c in info.claimed_slots] + [p.run_id for p in info.pending_steps]:
            holders.setdefault(run_id, set()).add(pool)
    return holders


def free_dead_runs(instance) -> list[str]:
    """Mark failed the runs this host's sn-lake processes left in progress when they died, and give back the pool
    slots of every run that died or ended (what run monitoring does after ``free_slots_after_run_end_seconds``, at
    once). Runs whose process is alive or unknown (another host, the daemon) keep theirs. Returns the runs freed."""
    import socket

    import dagster as dg

    in_progress = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    here = {run_guard.HOST_TAG: socket.gethostname()}
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=in_progress, tags=here)):
        reason = _dead_process(run)
        if reason:
            instance.report_run_failed(run, f"sn-lake marked this run failed: {reason}.")
            print(
                f"sn-lake: run {run.run_id} was left running: {reason}; marked it failed.", file=sys.stderr, flush=True
            )
    freed = []
    for run_id, pools in _slot_holders(instance).items():
        run = instance.get_run_by_id(run_id)
        reason = (
            "it is not in the run storage"
            if run is None
            else _dead_process(run)
            if _run_in_progress(run)
            else f"it ended ({run.status.value})"
        )
        if not reason:
            continue
        if run is not None and _run_in_progress(run):
            instance.report_run_failed(run, f"sn-lake marked this run failed: {reason}.")
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        print(
            f"sn-lake: gave back the {', '.join(sorted(pools))} pool slots of run {run_id}: {reason}.",
            file=sys.stderr,
            flush=True,
        )
        freed.append(run_id)
    return freed


def _describe_holder(instance, run_id: str, step_key: str | None) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} (not in the run storage)"
    where = (
        f", sn-lake pid {run.tags[run_guard.PID_TAG]} on {run.tags.get(run_guard.HOST_TAG)}"
        if run_guard.PID_TAG in run.tags
        else ""
    )
    return f"run {run_id} (step {step_key}, {run.status.value}{where})"


class _RunWatch(threading.Thread):
    """Beside one execute_job: says on stderr when a step of the run waits for a pool and who holds it (freeing
    slots of runs found dead meanwhile), and ends the run promptly, marked failed, on SIGINT or SIGTERM."""

    def __init__(self, invocation: str, signals: run_guard.SignalWatch):
        super().__init__(name="sn-lake-run-watch", daemon=True)
        self.invocation, self.signals, self.done = invocation, signals, threading.Event()
        self._said: dict[tuple[str, str], tuple] = {}

    def run(self) -> None:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            while not self.done.is_set():
                signum = self.signals.wait(POOL_POLL_S)
                if signum is not None:
                    self._end(instance, signum)
                    return
                try:
                    self._report_pools(instance)
                except Exception as exc:  # the storage is busy or gone: the run itself reports what matters
                    print(
                        f"sn-lake: could not read the pools' state ({type(exc).__name__}: {exc}); retrying.",
                        file=sys.stderr,
                        flush=True,
                    )

    def _run(self, instance):
        import dagster as dg

        runs = instance.get_runs(filters=dg.RunsFilter(tags={INVOCATION_TAG: self.invocation}), limit=1)
        return runs[0] if runs else None

    def _report_pools(self, instance) -> None:
        run = self._run(instance)
        storage = instance.event_log_storage
        if run is None or not storage.supports_global_concurrency_limits:
            return
        keys = sorted(storage.get_concurrency_keys())
        for pool, info in storage.get_concurrency_infos(keys).items():
            for pending in info.pending_steps:
                if pending.run_id != run.run_id or pending.assigned_timestamp is not None:
                    continue
                holders = tuple(sorted((c.run_id, c.step_key) for c in info.claimed_slots if c.run_id != run.run_id))
                if any(self._gone(instance, run_id) for run_id, _ in holders):
                    free_dead_runs(instance)  # the step then claims the slot at its next try
                    continue
                if not holders and info.limit:
                    continue  # a slot was just freed: the step takes it at its next try
                if self._said.get((pool, pending.step_key)) == holders:
                    continue
                self._said[(pool, pending.step_key)] = holders
                held = "; ".join(_describe_holder(instance, r, s) for r, s in holders) or "nobody (the limit is 0)"
                print(
                    f"sn-lake: step {pending.step_key} waits for pool {pool} (limit {info.limit}), held by {held}; "
                    "it goes on when a slot is free (pool limits and slots: the UI's Deployment > Concurrency).",
                    file=sys.stderr,
                    flush=True,
                )

    def _gone(self, instance, run_id: str) -> bool:
        run = instance.get_run_by_id(run_id)
        return run is None or not _run_in_progress(run) or _dead_process(run) is not None

    def _end(self, instance, signum: int) -> None:
        name = signal.Signals(signum).name
        run = self._run(instance)
        print(
            f"sn-lake: {name} received: ending run {run.run_id if run else '(not started)'} and marking it failed.",
            file=sys.stderr,
            flush=True,
        )
        if self.done.wait(INTERRUPT_GRACE_S):
            return  # a step saw the interrupt, the run failed and execute_job returned
        run = self._run(instance)
        if run is not None and _run_in_progress(run):
            instance.report_run_failed(run, f"sn-lake got {name} and ended the run.")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            print(f"run {run.run_id} FAILED (interrupted by {name})", flush=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signum)


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def print_rows(columns: Sequence[str], rows: Sequence[tuple], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(columns, map(_jsonable, row), strict=True)) for row in rows], indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    else:
        cells = [[("" if v is None else str(_jsonable(v))) for v in row] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


def cmd_run(args) -> int:
    if args.select is None:
        return run_everything()
    return 0 if materialize(args.select) else 1


def add_model_partitions(model_ids: Sequence[str]) -> None:
    """Register model ids as partitions of the evaluation assets (dynamic partitions ``models``)."""
    import dagster as dg

    from assets.partitions import models_partitions

    _dagster_home()
    with dg.DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions(models_partitions.name))
        new = [m for m in model_ids if m not in known]
        if new:
            instance.add_dynamic_partitions(models_partitions.name, new)


def evaluate_models(model_ids: Sequence[str], family_names: Sequence[str], ops_config: dict | None = None) -> bool:
    """Add the models as partitions, run the chosen evaluation assets per model, then load results and apply the views.

    ``ops_config`` is run config per evaluation asset, e.g. ``{"eval_adversarial": {"config": {"n_samples": 50}}}``;
    one step per model evaluates the chosen families (``assets.evaluation.evaluate_model``).
    """
    import dagster as dg

    load_definitions()  # puts the project root on sys.path, so `assets` imports
    from assets import evaluation

    add_model_partitions(model_ids)
    chosen = [key for name, key in evaluation.ASSETS_BY_FAMILY.items() if name in family_names]
    names = [key.to_user_string() for key in chosen]
    chosen_config = evaluation.run_config({k: v for k, v in (ops_config or {}).items() if k in names})
    ok = True
    for model_id in model_ids:
        print(f"== evaluating {model_id}: {', '.join(names)}")
        ok &= materialize(dg.AssetSelection.assets(*chosen), chosen_config, partition_key=model_id)
    downstream = dg.AssetSelection.groups("evaluation").downstream() - dg.AssetSelection.groups("evaluation")
    return materialize(downstream) and ok


def run_everything() -> int:
    """`sn-lake run`: zoo, crawls, catalog and checks; then the zoo models' evaluation per partition; then results
    and views."""
    import time

    import dagster as dg

    started = time.monotonic()
    load_definitions()
    evaluation_and_after = dg.AssetSelection.groups("evaluation").downstream()
    print("== 1/3 crawl (zoo included), catalog, checks")
    ok = materialize(dg.AssetSelection.all() - evaluation_and_after)
    settings = config.load()
    # the zoo models the lake holds (from the raw records, so a failed crawl elsewhere does not hide them)
    local_raw = lake.read_raw(settings, "local")
    zoo_models = sorted(
        f"local:{name}" for name in set(local_raw["native_id"]) if (lake.zoo_root(settings) / name).is_dir()
    )
    print(
        f"== 2/3 evaluate the {len(zoo_models)} zoo models with every attack family, "
        "then load results and apply the views"
    )
    if zoo_models:
        ok = evaluate_models(zoo_models, list(families.NAMES)) and ok
    if not warehouse.exists(settings):
        print(
            "sn-lake run: no warehouse was built (see the failed steps above); fix them and run again.", file=sys.stderr
        )
        return 1
    try:
        con = warehouse.connect(settings, read_only=True)
    except warehouse.WarehouseError as exc:  # corrupt, or another writer: the steps above said why
        print(f"sn-lake run: {exc}", file=sys.stderr)
        return 1
    print("== 3/3 what the warehouse now holds")
    print_rows(
        *warehouse.query(con, "SELECT source, count(*) AS models FROM catalog.models GROUP BY ALL ORDER BY 1"), "table"
    )
    counts = " UNION ALL ".join(f"SELECT '{t}' AS results_table, count(*) AS n_rows FROM {t}" for t in RESULTS_TABLES)
    print_rows(*warehouse.query(con, counts), "table")
    print_rows(*warehouse.query(con, (config.SQL_DIR / "queries" / "run_summary.sql").read_text()), "table")
    print(f"sn-lake run {'finished' if ok else 'finished with FAILURES'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


RESULTS_TABLES = tuple(families.TABLES.values())


def unknown_model_ids(settings: config.Settings, model_ids: Sequence[str]) -> list[str]:
    """The ids of ``model_ids`` that neither catalog.models nor the lake's raw records hold (a model crawled but not
    yet catalogued counts: the next catalog build takes it). Waits while a writer holds the warehouse."""
    known: set[str] = set()
    if warehouse.exists(settings):
        sql = "SELECT model_id FROM catalog.models WHERE list_contains(?, model_id)"
        found = warehouse.read_when_free(settings, sql, [list(model_ids)], wait_s=settings.write_wait_s)
        known |= {m for (m,) in found}
    for source in sorted({m.partition(":")[0] for m in model_ids if m not in known} & set(lake.sources(settings))):
        known |= {f"{source}:{n}" for n in lake.read_raw(settings, source)["native_id"].unique()}
    return [m for m in model_ids if m not in known]


def not_evaluable(settings: config.Settings, model_ids: Sequence[str]) -> dict[str, str]:
    """``model id -> reason`` for the models catalog.evaluability refuses (the rule the sensor follows too); a model
    it does not list yet (crawled, not catalogued) is let through, and its failure, if any, is recorded."""
    if not warehouse.exists(settings):
        return {}
    sql = "SELECT model_id, reason FROM catalog.evaluability WHERE NOT evaluable AND list_contains(?, model_id)"
    import duckdb

    try:
        rows = warehouse.read_when_free(settings, sql, [list(model_ids)], wait_s=settings.write_wait_s)
    except (warehouse.WarehouseError, duckdb.Error):  # no catalog.evaluability yet: the evaluation decides
        return {}
    return dict(rows)


def cmd_evaluate(args) -> int:
    settings = config.load()
    try:
        unknown = unknown_model_ids(settings, args.model_ids)
    except Exception as exc:  # a corrupt warehouse or lake file, a writer that never lets go
        print(
            f"sn-lake evaluate: expected a catalog to look the models up in, could not read it ({_first_line(exc)}); "
            "fix what it names, or run `sn-lake run`, then evaluate again.",
            file=sys.stderr,
        )
        return 2
    if unknown:
        print(
            f"sn-lake evaluate: expected model ids that the catalog (or the lake) holds, found {len(unknown)} it "
            f"does not: {', '.join(map(repr, unknown[:10]))}; nothing was added or run. Look ids up with "
            "`sn-lake search --text NAME`, or crawl their source first (`sn-lake crawl SOURCE`).",
            file=sys.stderr,
        )
        return 2
    refused = not_evaluable(settings, args.model_ids)
    for model_id, reason in refused.items():
        print(
            f"sn-lake evaluate: {model_id} is not evaluable ({reason}); it was left out. See catalog.evaluability.",
            file=sys.stderr,
        )
    chosen = [m for m in args.model_ids if m not in refused]
    if not chosen:
        return 2
    attacks = [ATTACK_FAMILIES[a] for a in args.attacks.split(",") if a and ATTACK_FAMILIES[a] != "task_accuracy"]
    return 0 if evaluate_models(chosen, ["task_accuracy", *attacks], args.config) and not refused else 1


def _run_config(text: str) -> dict:
    """``--config``: run config per evaluation asset, as JSON or YAML inline or in a file."""
    import yaml

    try:
        is_file = Path(text).is_file()
    except (OSError, ValueError):  # too long for a file name, or a NUL byte: it is the config's text
        is_file = False
    try:
        value = yaml.safe_load(Path(text).read_text(encoding="utf-8") if is_file else text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(
            f"expected JSON or YAML (or a file of it), found text that does not parse: {exc}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(
            f"expected a readable UTF-8 file of JSON or YAML at {text}, found one that cannot be read "
            f"({type(exc).__name__}: {exc}): pass the config itself or fix the file"
        ) from None
    known = {f.asset for f in families.FAMILIES.values()}
    if not isinstance(value, dict) or not set(value) <= known:
        raise argparse.ArgumentTypeError(
            f"expected a mapping of evaluation assets ({', '.join(sorted(known))}) to their run config, e.g. "
            f'\'{{"eval_adversarial": {{"config": {{"n_samples": 50}}}}}}\', found {text!r}'
        )
    return value


def cmd_zoo(args) -> int:
    from sn_lake.evaluate import zoo

    settings = config.load()
    root = lake.zoo_root(settings)
    summaries = zoo.build_zoo(root, tuple(args.only) or None, log=lambda _: None, threads=settings.torch_threads)
    print_rows(list(summaries[0]), [tuple(s.values()) for s in summaries], "table")
    print(f"zoo under {root}; `sn-lake crawl local` (or `sn-lake run`) puts it in the catalog")
    return 0


# `sn-lake evaluate --attacks` names -> evaluation families
ATTACK_FAMILIES = {attack: family.name for attack, family in families.BY_ATTACK.items()}


def _attack_list(text: str) -> str:
    unknown = [a for a in text.split(",") if a and a not in ATTACK_FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"expected attacks from {','.join(ATTACK_FAMILIES)}, found {','.join(unknown)}"
        )
    return text


def cmd_crawl(args) -> int:
    """The crawl, then what the daily schedule runs after it (catalog, checks, views; not the evaluation), and what
    entered, changed or left the catalog; ``--lake-only``: the crawl alone."""
    import dagster as dg

    asset = CRAWL_ASSETS[args.source]
    max_seconds = args.max_minutes * 60 if args.max_minutes is not None else None
    given = (
        ("limit", args.limit),
        ("full", args.full or None),
        ("max_requests", args.max_requests),
        ("max_seconds", max_seconds),
    )
    options = {k: v for k, v in given if v is not None}
    refused = sorted(set(options) - CRAWL_OPTIONS.get(args.source, set()))
    if refused:
        flags = lambda names: " ".join(CRAWL_FLAGS[n] for n in sorted(names))  # noqa: E731
        takes = ", ".join(f"{s}: {flags(o)}" for s, o in sorted(CRAWL_OPTIONS.items()))
        print(f"sn-lake crawl: {args.source} takes no {flags(refused)} (only {takes}): drop it.", file=sys.stderr)
        return 2
    load_definitions()  # puts the project root on sys.path, so `assets` imports
    from assets.automation import crawl_and_downstream

    settings = config.load()
    selection = dg.AssetSelection.assets(asset) if args.lake_only else crawl_and_downstream(asset)
    before = None if args.lake_only else _catalog_fingerprints(settings)
    ok = materialize(selection, {asset: {"config": options}} if options else None)
    if not args.lake_only:
        _print_catalog_changes(before, _catalog_fingerprints(settings))
    if args.source == "huggingface":
        _print_pending_cards(settings)
    return 0 if ok else 1


def _catalog_fingerprints(settings: config.Settings) -> dict[str, tuple[str, str]] | None:
    """model id -> (source, fingerprint) of every catalog model (sql/queries/catalog_fingerprints.sql); {} without a
    warehouse, None when it cannot be read (say, another process writes it)."""
    import duckdb

    if not warehouse.exists(settings):
        return {}
    try:
        con = warehouse.connect(settings, read_only=True)
    except warehouse.WarehouseError:
        return None
    try:
        _, rows = warehouse.query(con, (config.SQL_DIR / "queries" / "catalog_fingerprints.sql").read_text())
    except duckdb.Error:
        return {}  # a warehouse without catalog.models yet: every model enters
    finally:
        con.close()
    return {model_id: (source, fingerprint) for model_id, source, fingerprint in rows}


def _print_catalog_changes(before: dict | None, after: dict | None) -> None:
    """`sn-lake crawl`'s summary: models that entered, changed or left the catalog, in all and per source."""
    if before is None or after is None:
        print(
            "catalog: the warehouse could not be read before or after the run, so what changed is not known; "
            "see it with `sn-lake status`."
        )
        return
    counts: dict[str, list[int]] = {}
    for model_id, (source, fingerprint) in after.items():
        entry = counts.setdefault(source, [0, 0, 0])
        if model_id not in before:
            entry[0] += 1
        elif before[model_id][1] != fingerprint:
            entry[1] += 1
    for model_id, (source, _) in before.items():
        if model_id not in after:
            counts.setdefault(source, [0, 0, 0])[2] += 1
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    print(f"catalog: {total[0]} models entered, {total[1]} changed, {total[2]} left ({len(after)} models now)")
    for source, (entered, changed, left) in sorted(counts.items()):
        if entered or changed or left:
            print(f"  {source}: {entered} entered, {changed} changed, {left} left")


def _print_pending_cards(settings: config.Settings) -> None:
    """The Hugging Face cards a budget (or failed requests) left for the next crawl, if any."""
    from sn_lake.sources.huggingface import crawl as huggingface

    pending = huggingface.pending_cards(settings)
    if pending["pending"] is None:
        if pending["phase"] in ("listing", "cards"):
            print(
                f"huggingface: crawl {pending['crawl_id']} is unfinished (its {pending['phase']} phase); "
                "`sn-lake crawl huggingface` resumes it."
            )
        return
    if pending["pending"] and pending["phase"] == "cards":
        print(
            f"huggingface: {pending['pending']} cards pending in crawl {pending['crawl_id']}, "
            "stopped in its card pass; "
            "`sn-lake crawl huggingface` resumes it."
        )
    elif pending["pending"]:
        why = (
            f"the {pending['stopped_by']} budget stopped the card pass" if pending["stopped_by"] else "failed requests"
        )
        print(
            f"huggingface: {pending['pending']} cards pending ({why}); the next `sn-lake crawl huggingface` "
            "fetches them first."
        )
    else:
        print("huggingface: every card the catalog needs is in the lake (0 pending).")


def cmd_sql(args) -> int:
    import duckdb

    con = None
    try:
        con = warehouse.connect_for_queries(config.load())
        columns, rows = warehouse.read_query(con, args.query)
    except warehouse.WarehouseError as exc:
        print(f"sn-lake sql: {exc}", file=sys.stderr)
        return 2
    except duckdb.PermissionException as exc:
        print(
            f"sn-lake sql: refused: a query reads only the warehouse's tables and views, no files, URLs or "
            f"extensions ({_first_line(exc)}); to write files: `sn-lake export DIR`.",
            file=sys.stderr,
        )
        return 2
    except duckdb.Error as exc:
        print(
            f"sn-lake sql: the query failed; the warehouse is opened read-only and was not changed. {exc}",
            file=sys.stderr,
        )
        return 2
    finally:
        if con is not None:
            con.close()
    print_rows(columns, rows, args.format)
    return 0


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def cmd_search(args) -> int:
    import duckdb

    filters = search.Filters(
        dataset=args.dataset,
        data_category=args.category,
        family=args.family,
        purpose=args.purpose,
        source=args.source,
        min_accuracy=args.min_accuracy,
        year_from=args.year_from,
        year_to=args.year_to,
        license=args.license,
        loadable_weights=args.loadable,
        text=args.text,
        sort=args.sort,
        limit=args.limit,
        descends_from=args.descends_from,
        min_robust_accuracy=args.min_robust_accuracy,
        threat_model=args.threat_model,
    )
    try:
        con = warehouse.connect_for_queries(config.load())
        columns, rows = search.search(con, filters)
    except (warehouse.WarehouseError, search.SearchError, duckdb.Error) as exc:
        print(f"sn-lake search: {exc}", file=sys.stderr)
        return 2
    print_rows(columns, rows, args.format)
    return 0


def _coverage_line(con) -> str | None:
    """One line of analytics.evaluation_coverage: models, evaluable, evaluated, failed, and the commonest reason."""
    import duckdb

    try:
        total = con.execute(
            "SELECT sum(n_models), sum(n_evaluable), sum(n_evaluated), sum(n_failed) FROM analytics.evaluation_coverage"
        ).fetchone()
        top = con.execute(
            "SELECT split_part(reason, ':', 1), count(*) FROM catalog.evaluability WHERE NOT evaluable "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        ).fetchone()
    except duckdb.Error:  # a warehouse from before the evaluability rule: nothing to say yet
        return None
    if not total or not total[0]:
        return None
    n, evaluable, evaluated, failed = (int(v or 0) for v in total)
    line = (
        f"evaluation coverage: {evaluable:,} of {n:,} catalog models evaluable ({evaluable / n:.1%}), "
        f"{evaluated:,} evaluated, {failed:,} failed"
    )
    return line + (f"; top reason not: {top[0]} ({top[1]:,})" if top else "")


def cmd_status(args) -> int:
    """What the lake and the warehouse hold; a part that cannot be read is named with what to do, never a traceback."""
    import duckdb

    settings = config.load()
    print(f"SN_LAKE_HOME: {settings.home}")
    ok = True
    try:
        rows = lake.summary(settings)
    except Exception as exc:  # a corrupt or unreadable lake file: say which, keep going to the warehouse
        broken = _unreadable_lake_files(settings)
        named = (
            "; ".join(f"{path} ({why})" for path, why in broken[:5]) or f"({type(exc).__name__}: {_first_line(exc)})"
        )
        print(
            f"sn-lake status: expected Parquet files under {settings.lake_dir}, found {len(broken) or 'some'} that "
            f"cannot be read: {named}; move them aside (out of the lake) and run `sn-lake run`.",
            file=sys.stderr,
        )
        rows, ok = None, False
    if rows == []:
        print("The lake is empty: run `sn-lake run` (or `sn-lake crawl SOURCE`).")
    elif rows:
        print_rows(list(rows[0]), [tuple(r.values()) for r in rows], "table")
    if rows and any(r["source"] == "huggingface" for r in rows):
        try:
            _print_pending_cards(settings)
        except Exception as exc:  # a corrupt crawl state file
            print(
                f"sn-lake status: could not read the huggingface crawl state ({type(exc).__name__}: "
                f"{_first_line(exc)}); move {lake.state_path(settings, 'huggingface')} aside and crawl again.",
                file=sys.stderr,
            )
            ok = False
    if not warehouse.exists(settings):
        if rows:
            print(f"\nno warehouse yet at {settings.warehouse_path}: `sn-lake run` builds it from the lake.")
        return 0 if ok else 1
    try:
        con = warehouse.connect(settings, read_only=True)
        try:
            counts = warehouse.query(
                con, "SELECT source, count(*) AS models FROM catalog.models GROUP BY ALL ORDER BY 1"
            )
            coverage = _coverage_line(con)
        finally:
            con.close()
    except warehouse.WarehouseError as exc:
        print(f"sn-lake status: {exc}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(
            f"sn-lake status: the warehouse {settings.warehouse_path} opened but catalog.models could not be read "
            f"({_first_line(exc)}); run `sn-lake run` to rebuild it.",
            file=sys.stderr,
        )
        return 1
    print("\nwarehouse catalog.models:")
    print_rows(*counts, "table")
    if coverage:
        print(f"\n{coverage}")
    return 0 if ok else 1


def _unreadable_lake_files(settings: config.Settings) -> list[tuple[Path, str]]:
    """The lake's raw step files whose Parquet footer cannot be read, each with what the reader said."""
    import polars as pl

    broken = []
    for source in lake.sources(settings):
        for path in lake.raw_files(settings, source):
            try:
                pl.read_parquet_schema(path)
            except Exception as exc:
                broken.append((path, _first_line(exc)))
    return broken


def cmd_ui(args) -> int:
    home = _dagster_home()
    workspace = os.path.join(str(config.PROJECT_ROOT), "dagster_home", "workspace.yaml")
    print(f"Dagster UI and daemon on http://{args.host}:{args.port} (DAGSTER_HOME={home})")
    command = ["dagster", "dev", "-w", workspace, "-h", args.host, "-p", str(args.port)]
    return subprocess.call([os.path.join(os.path.dirname(sys.executable), command[0]), *command[1:]])


def cmd_worker(args) -> int:
    """Become a dagster-celery worker of the distributed profile (replaces this process, so signals reach Celery)."""
    import tempfile

    settings = config.load()
    if settings.profile != "distributed":
        print(
            "sn-lake worker: workers serve the distributed profile only, found SN_LAKE_PROFILE="
            f"{settings.profile!r}: set SN_LAKE_PROFILE=distributed (docs/scale_out.md).",
            file=sys.stderr,
        )
        return 2
    _dagster_home()
    # dagster_celery.app reads its broker and result backend from a module named dagster_celery_config.
    config_dir = tempfile.mkdtemp(prefix="sn-lake-celery-")
    with open(os.path.join(config_dir, "dagster_celery_config.py"), "w", encoding="utf8") as module:
        module.write(
            f"broker_url = {settings.celery_broker!r}\nresult_backend = {settings.celery_backend!r}\n"
            # a busy worker reserves no second step, so an idle worker takes it
            "task_acks_late = True\nworker_prefetch_multiplier = 1\n"
        )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            p for p in (config_dir, str(config.PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p
        ),
    )
    # steps run in threads, so the worker's main thread still answers Celery's remote control while busy
    pool = ["--pool", "threads", "--concurrency", str(args.concurrency)]
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    command = [
        celery,
        "-A",
        "dagster_celery.app",
        "worker",
        "--prefetch-multiplier=1",
        "-Q",
        args.queue,
        "-n",
        f"{args.name}@%h",
        "--loglevel",
        args.loglevel,
        *pool,
    ]
    print(
        f"Celery worker {args.name} on {config.redact(settings.celery_broker)} "
        f"(DAGSTER_HOME={os.environ['DAGSTER_HOME']})",
        flush=True,
    )
    os.chdir(config.PROJECT_ROOT)
    os.execve(celery, command, env)


def cmd_report(args) -> int:
    from pathlib import Path

    from sn_lake import report

    settings = config.load()
    out = Path(args.out) if args.out else settings.home / "report"
    try:
        con = warehouse.connect(settings, read_only=True)
    except warehouse.WarehouseError as exc:
        print(f"sn-lake report: {exc}", file=sys.stderr)
        return 2
    try:
        figures = report.build(con, out)
    finally:
        con.close()
    for figure in figures:
        print(f"{out / figure.file}: {figure.title}")
    print(f"{out / 'index.html'}: the page with every figure and table")
    return 0


def cmd_export(args) -> int:
    from pathlib import Path

    from sn_lake import export

    try:
        con = warehouse.connect(config.load(), read_only=True)
    except warehouse.WarehouseError as exc:
        print(f"sn-lake export: {exc}", file=sys.stderr)
        return 2
    try:
        card = export.export(con, Path(args.dir), args.format)
    except export.ExportError as exc:
        print(f"sn-lake export: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    print_rows(
        ["relation", "file", "rows"], [(e["relation"], e["file"], e["rows"]) for e in card["relations"]], "table"
    )
    print(f"data card: {Path(args.dir) / 'DATA_CARD.md'} and datacard.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn-lake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="materialize assets through Dagster (default: everything)")
    p.add_argument(
        "--select",
        default=None,
        help="Dagster asset selection, e.g. 'group:catalog or group:analytics' "
        "(default: everything in order: crawls and catalog, the zoo models' evaluation partitions, results and views)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("evaluate", help="evaluate models (catalog model ids) through Dagster, one partition each")
    p.add_argument(
        "model_ids", nargs="+", metavar="MODEL_ID", help="e.g. local:digits-resnet-low or huggingface:owner/repo"
    )
    attacks = ",".join(a for a, family in ATTACK_FAMILIES.items() if family != "task_accuracy")
    p.add_argument(
        "--attacks", type=_attack_list, default=attacks, help=f"comma-separated: {attacks} (task accuracy always runs)"
    )
    p.add_argument(
        "--config",
        type=_run_config,
        default=None,
        metavar="JSON|YAML|FILE",
        help="run config per evaluation asset, e.g. "
        '\'{"eval_membership_inference": {"config": {"max_per_side": 1000}}}\' '
        "(fields and defaults: docs/evaluation.md)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("zoo", help="the demo zoo of tiny digits classifiers")
    zoo_sub = p.add_subparsers(dest="zoo_command", required=True)
    b = zoo_sub.add_parser("build", help="train (or reuse, cached) the zoo under $SN_LAKE_HOME/zoo")
    b.add_argument("--only", nargs="*", default=[], metavar="NAME", help="build only these zoo models")
    b.set_defaults(func=cmd_zoo)

    p = sub.add_parser("crawl", help="crawl one source into the lake")
    p.add_argument("source", choices=sorted(CRAWL_ASSETS))
    p.add_argument("--limit", type=int, help="huggingface: stop listing after N models")
    p.add_argument(
        "--full",
        action="store_true",
        help="huggingface: new sweep (no resume) and re-fetch cards already in the lake; "
        "papers, weights: ask again about every paper id / link, not only the new ones",
    )
    p.add_argument(
        "--lake-only",
        action="store_true",
        help="only the crawl into the lake (default: then the catalog, its checks and the views, as the schedule does)",
    )
    p.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="huggingface: a budget of N requests this run; the cards it leaves are pending and come first next run",
    )
    p.add_argument(
        "--max-minutes",
        type=float,
        metavar="M",
        help="huggingface: a budget of M minutes this run; the cards it leaves are pending and come first next run",
    )
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("sql", help="run a query on the warehouse, opened read-only")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("search", help="find models in the catalog (every filter is optional)")
    p.add_argument("--dataset", help="canonical dataset id, e.g. cifar10")
    p.add_argument("--category", help="data category, e.g. natural, medical, digit")
    p.add_argument("--family", help="architecture family, e.g. resnet")
    p.add_argument("--purpose", choices=["benchmark", "security", "other"])
    p.add_argument("--source", help=f"one of {', '.join(SOURCES)}")
    p.add_argument("--min-accuracy", type=float, help="reported or measured accuracy at least this fraction, e.g. 0.8")
    p.add_argument(
        "--min-robust-accuracy",
        type=float,
        help="robust accuracy (worst case over attacks at the largest budget evaluated; corruptions: "
        "the mean accuracy) at least this fraction, e.g. 0.5",
    )
    p.add_argument(
        "--threat-model",
        choices=list(search.THREAT_MODELS),
        help="only models evaluated under this threat model (Linf, L2 or corruptions)",
    )
    p.add_argument("--year-from", type=int, help="paper (else hub creation) year at least this")
    p.add_argument("--year-to", type=int, help="paper (else hub creation) year at most this")
    p.add_argument("--license", help="licence id, e.g. apache-2.0")
    p.add_argument(
        "--loadable",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only models whose weights load without running code (--no-loadable: only the others)",
    )
    p.add_argument("--text", help="text the model id contains")
    p.add_argument(
        "--descends-from",
        metavar="MODEL_ID",
        help="only descendants of this model in the model tree (a catalog id, or a Hub repo id)",
    )
    p.add_argument("--sort", default="accuracy", choices=list(search.SORTS))
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("status", help="what the lake and the warehouse hold")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("report", help="PNG figures and one HTML page from the warehouse")
    p.add_argument("--out", help="folder for the figures and index.html (default: $SN_LAKE_HOME/report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export", help="the catalog, papers and results as files with a data card")
    p.add_argument("dir", help="folder to write (created if missing)")
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("worker", help="run a dagster-celery worker (SN_LAKE_PROFILE=distributed)")
    p.add_argument("--name", default=f"sn-lake-{os.getpid()}", help="worker name (the host is appended)")
    p.add_argument("--concurrency", type=int, default=1, help="steps run at once (threads of the worker process)")
    p.add_argument(
        "--queue",
        default="dagster",
        help="Celery queue(s) to consume, comma-separated (steps pick one "
        "with the dagster-celery/queue tag, e.g. a gpu queue served by GPU machines)",
    )
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("ui", help="start Dagster's UI and daemon")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    for position, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)
            shown = os.fsencode(arg).decode("utf-8", "backslashreplace")
            print(
                f"sn-lake: expected UTF-8 text in every argument, found bytes that are not UTF-8 in argument "
                f"{position} ({shown!r}): pass it as UTF-8.",
                file=sys.stderr,
            )
            return 2
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if "SIGTERM" in str(exc) else "SIGINT"
        print(f"sn-lake: interrupted by {name}; stopped (a run in progress was marked failed).", file=sys.stderr)
        return 143 if name == "SIGTERM" else 130


if __name__ == "__main__":
    sys.exit(main())
