"""The ``sn-lake`` command: drives Dagster runs and reads the warehouse.

This is the one module of ``sn_lake`` that imports Dagster and ``assets/``; it does so inside the
commands that need them, so ``sn-lake sql`` starts fast.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sn_lake import config, lake, search, warehouse
from sn_lake.evaluate.configs import FAMILIES as EVALUATION_FAMILIES

# source name -> the asset key of its crawl
CRAWL_ASSETS = {"timm": "raw_timm", "local": "raw_local", "securitynet": "raw_securitynet", "huggingface": "raw_huggingface",
                "kaggle": "raw_kaggle", "papers": "raw_papers", "weights": "raw_weights"}
# source -> the `sn-lake crawl` options its crawl asset takes
CRAWL_OPTIONS = {"huggingface": {"limit", "full"}, "papers": {"full"}, "weights": {"full"}}


def _dagster_home() -> str:
    """DAGSTER_HOME as an absolute path, defaulting to the profile's folder (dagster_home/ or dagster_home/distributed/)."""
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


# The code location, loaded by file the way dagster_home/workspace.yaml loads it (working directory: the project root).
CODE_LOCATION = config.PROJECT_ROOT / "assets" / "definitions.py"


def _reconstructable_asset_job(selection):
    """The code location's asset job for ``selection``, reconstructable from CODE_LOCATION as ``dagster asset materialize -f`` builds it.

    Returns the reconstructable job (what an executor sends to other processes or Celery workers), its definition and the asset keys.
    """
    import dagster as dg
    from dagster._core.code_pointer import FileCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._utils.hosted_user_process import recon_job_from_origin, recon_repository_from_origin

    pointer = FileCodePointer(str(CODE_LOCATION), "defs", working_directory=str(config.PROJECT_ROOT))
    origin = RepositoryPythonOrigin(executable_path=sys.executable, code_pointer=pointer)
    repository = recon_repository_from_origin(origin).get_definition()
    asset_keys = (dg.AssetSelection.from_string(selection) if isinstance(selection, str) else selection).resolve(repository.asset_graph)
    job_def = repository.get_implicit_job_def_for_assets(asset_keys)
    return recon_job_from_origin(JobPythonOrigin(job_def.name, repository_origin=origin)), job_def, asset_keys


def materialize(selection, ops_config: dict | None = None, partition_key: str | None = None) -> bool:
    """Materialize an asset selection (Dagster's selection syntax, or an AssetSelection) against the DAGSTER_HOME instance.

    ``ops_config`` is run config per asset, e.g. ``{"raw_huggingface": {"config": {"limit": 100}}}``;
    ``partition_key`` picks the partition of partitioned assets (e.g. a model id of ``models``). The run executes the
    code location's job with its executor (the Celery workers in the distributed profile); Dagster's default executor
    is run in-process here, as one ``sn-lake`` command needs no step subprocesses (each would import torch again).
    """
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    _dagster_home()
    job, job_def, asset_keys = _reconstructable_asset_job(selection)
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}, **({"ops": ops_config} if ops_config else {})}
    if job_def.executor_def is dg.multi_or_in_process_executor:
        run_config["execution"] = {"config": {"in_process": {}}}
    with dg.DagsterInstance.get() as instance:
        tags = {}
        if partition_key is not None:
            with dg.partition_loading_context(dynamic_partitions_store=instance) as context:
                job_def.validate_partition_key(partition_key, selected_asset_keys=asset_keys, context=context)
            tags = job_def.get_tags_for_partition_key(partition_key, selected_asset_keys=asset_keys)
        try:
            result = dg.execute_job(job, instance=instance, run_config=run_config, tags=tags, asset_selection=sorted(asset_keys))
        except dg.DagsterInvalidConfigError as exc:
            print(f"sn-lake: the run config does not fit the assets, nothing ran: {exc}", file=sys.stderr)
            return False
        for event in result.get_asset_materialization_events():
            mat = event.step_materialization_data.materialization
            shown = {k: v.value for k, v in mat.metadata.items() if not isinstance(v.value, str) or len(v.value) < 80}
            print(f"materialized {mat.asset_key.to_user_string()}: {shown}")
        status = "succeeded" if result.success else "FAILED"
        print(f"run {result.run_id} {status} (see it with `sn-lake ui`)")
        return result.success


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def print_rows(columns: Sequence[str], rows: Sequence[tuple], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(columns, map(_jsonable, row))) for row in rows], indent=2))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    else:
        cells = [[("" if v is None else str(_jsonable(v))) for v in row] for row in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
        print("  ".join("-" * w for w in widths))
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
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


def evaluate_models(model_ids: Sequence[str], families: Sequence[str], ops_config: dict | None = None) -> bool:
    """Add the models as partitions, run the chosen evaluation assets per model, then load results and apply the views.

    ``ops_config`` is run config per evaluation asset, e.g. ``{"eval_adversarial": {"config": {"n_samples": 50}}}``.
    """
    import dagster as dg

    load_definitions()  # puts the project root on sys.path, so `assets` imports
    from assets import evaluation

    add_model_partitions(model_ids)
    chosen = [a for a in evaluation.EVALUATION_ASSETS if a.key.to_user_string().removeprefix("eval_") in families]
    ok = True
    for model_id in model_ids:
        print(f"== evaluating {model_id}: {', '.join(a.key.to_user_string() for a in chosen)}")
        chosen_config = {k: v for k, v in (ops_config or {}).items() if k in {a.key.to_user_string() for a in chosen}}
        ok &= materialize(dg.AssetSelection.assets(*chosen), chosen_config or None, partition_key=model_id)
    downstream = dg.AssetSelection.groups("evaluation").downstream() - dg.AssetSelection.groups("evaluation")
    return materialize(downstream) and ok


def run_everything() -> int:
    """`sn-lake run`: zoo, crawls, catalog and checks; then the zoo models' evaluation per partition; then results and views."""
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
    zoo_models = sorted(f"local:{name}" for name in set(local_raw["native_id"]) if (settings.home / "zoo" / name).is_dir())
    print(f"== 2/3 evaluate the {len(zoo_models)} zoo models with every attack family, then load results and apply the views")
    if zoo_models:
        ok = evaluate_models(zoo_models, list(EVALUATION_FAMILIES)) and ok
    if not warehouse.exists(settings):
        print("sn-lake run: no warehouse was built (see the failed steps above); fix them and run again.", file=sys.stderr)
        return 1
    con = warehouse.connect(settings, read_only=True)
    print("== 3/3 what the warehouse now holds")
    print_rows(*warehouse.query(con, "SELECT source, count(*) AS models FROM catalog.models GROUP BY ALL ORDER BY 1"), "table")
    counts = " UNION ALL ".join(f"SELECT '{t}' AS results_table, count(*) AS n_rows FROM {t}" for t in RESULTS_TABLES)
    print_rows(*warehouse.query(con, counts), "table")
    print_rows(*warehouse.query(con, (config.SQL_DIR / "queries" / "run_summary.sql").read_text()), "table")
    print(f"sn-lake run {'finished' if ok else 'finished with FAILURES'} in {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


RESULTS_TABLES = tuple(f"results.{f}" for f in EVALUATION_FAMILIES)


def cmd_evaluate(args) -> int:
    families = ["task_accuracy"] + [ATTACK_FAMILIES[a] for a in args.attacks.split(",") if a and ATTACK_FAMILIES[a] != "task_accuracy"]
    return 0 if evaluate_models(args.model_ids, families, args.config) else 1


def _run_config(text: str) -> dict:
    """``--config``: run config per evaluation asset, as JSON or YAML inline or in a file."""
    import yaml

    path = Path(text)
    try:
        value = yaml.safe_load(path.read_text() if path.is_file() else text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"expected JSON or YAML (or a file of it), found text that does not parse: {exc}") from None
    known = {f"eval_{f}" for f in EVALUATION_FAMILIES}
    if not isinstance(value, dict) or not set(value) <= known:
        raise argparse.ArgumentTypeError(
            f"expected a mapping of evaluation assets ({', '.join(sorted(known))}) to their run config, e.g. "
            f"'{{\"eval_adversarial\": {{\"config\": {{\"n_samples\": 50}}}}}}', found {text!r}"
        )
    return value


def cmd_zoo(args) -> int:
    from sn_lake.evaluate import zoo

    settings = config.load()
    root = settings.home / "zoo"
    summaries = zoo.build_zoo(root, tuple(args.only) or None, log=lambda _: None, threads=settings.torch_threads)
    print_rows(list(summaries[0]), [tuple(s.values()) for s in summaries], "table")
    print(f"zoo under {root}; `sn-lake crawl local` (or `sn-lake run`) puts it in the catalog")
    return 0


# `sn-lake evaluate --attacks` names -> evaluation families
ATTACK_FAMILIES = {"accuracy": "task_accuracy", "stealing": "model_stealing", "membership": "membership_inference",
                   "adversarial": "adversarial", "backdoor": "backdoor_detection"}  # fmt: skip


def _attack_list(text: str) -> str:
    unknown = [a for a in text.split(",") if a and a not in ATTACK_FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(f"expected attacks from {','.join(ATTACK_FAMILIES)}, found {','.join(unknown)}")
    return text


def cmd_crawl(args) -> int:
    asset = CRAWL_ASSETS[args.source]
    options = {k: v for k, v in (("limit", args.limit), ("full", args.full or None)) if v is not None}
    refused = sorted(set(options) - CRAWL_OPTIONS.get(args.source, set()))
    if refused:
        takes = ", ".join(f"{s}: --{' --'.join(sorted(o))}" for s, o in sorted(CRAWL_OPTIONS.items()))
        print(f"sn-lake crawl: {args.source} takes no --{' --'.join(refused)} (only {takes}): drop it.", file=sys.stderr)
        return 2
    return 0 if materialize(f"key:{asset}", {asset: {"config": options}} if options else None) else 1


def cmd_sql(args) -> int:
    import duckdb

    try:
        con = warehouse.connect(config.load(), read_only=True)
        columns, rows = warehouse.query(con, args.query)
    except warehouse.WarehouseError as exc:
        print(f"sn-lake sql: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:
        print(f"sn-lake sql: the query failed; the warehouse is opened read-only and was not changed. {exc}", file=sys.stderr)
        return 2
    print_rows(columns, rows, args.format)
    return 0


def cmd_search(args) -> int:
    import duckdb

    filters = search.Filters(
        dataset=args.dataset, data_category=args.category, family=args.family, purpose=args.purpose,
        source=args.source, min_accuracy=args.min_accuracy, year_from=args.year_from, year_to=args.year_to,
        license=args.license, loadable_weights=args.loadable, text=args.text, sort=args.sort, limit=args.limit,
    )
    try:
        con = warehouse.connect(config.load(), read_only=True)
        columns, rows = search.search(con, filters)
    except (warehouse.WarehouseError, search.SearchError, duckdb.Error) as exc:
        print(f"sn-lake search: {exc}", file=sys.stderr)
        return 2
    print_rows(columns, rows, args.format)
    return 0


def cmd_status(args) -> int:
    settings = config.load()
    print(f"SN_LAKE_HOME: {settings.home}")
    rows = lake.summary(settings)
    if not rows:
        print("The lake is empty: run `sn-lake run` (or `sn-lake crawl SOURCE`).")
        return 0
    print_rows(list(rows[0]), [tuple(r.values()) for r in rows], "table")
    if warehouse.exists(settings):
        con = warehouse.connect(settings, read_only=True)
        print("\nwarehouse catalog.models:")
        print_rows(*warehouse.query(con, "SELECT source, count(*) AS models FROM catalog.models GROUP BY ALL ORDER BY 1"), "table")
    return 0


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
        print("sn-lake worker: workers serve the distributed profile only, found SN_LAKE_PROFILE="
              f"{settings.profile!r}: set SN_LAKE_PROFILE=distributed (docs/scale_out.md).", file=sys.stderr)
        return 2
    _dagster_home()
    # dagster_celery.app reads its broker and result backend from a module named dagster_celery_config.
    config_dir = tempfile.mkdtemp(prefix="sn-lake-celery-")
    with open(os.path.join(config_dir, "dagster_celery_config.py"), "w", encoding="utf8") as module:
        module.write(f"broker_url = {settings.celery_broker!r}\nresult_backend = {settings.celery_backend!r}\n"
                     # a busy worker reserves no second step, so an idle worker takes it
                     "task_acks_late = True\nworker_prefetch_multiplier = 1\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (config_dir, str(config.PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p))
    # steps run in threads, so the worker's main thread still answers Celery's remote control while busy
    pool = ["--pool", "threads", "--concurrency", str(args.concurrency)]
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    command = [celery, "-A", "dagster_celery.app", "worker", "--prefetch-multiplier=1", "-Q", args.queue,
               "-n", f"{args.name}@%h", "--loglevel", args.loglevel, *pool]
    print(f"Celery worker {args.name} on {config.redact(settings.celery_broker)} (DAGSTER_HOME={os.environ['DAGSTER_HOME']})", flush=True)
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
    print_rows(["relation", "file", "rows"], [(e["relation"], e["file"], e["rows"]) for e in card["relations"]], "table")
    print(f"data card: {Path(args.dir) / 'DATA_CARD.md'} and datacard.json")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn-lake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="materialize assets through Dagster (default: everything)")
    p.add_argument("--select", default=None, help="Dagster asset selection, e.g. 'group:catalog or group:analytics' "
                   "(default: everything in order: crawls and catalog, the zoo models' evaluation partitions, results and views)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("evaluate", help="evaluate models (catalog model ids) through Dagster, one partition each")
    p.add_argument("model_ids", nargs="+", metavar="MODEL_ID", help="e.g. local:digits-resnet-low or huggingface:owner/repo")
    p.add_argument("--attacks", type=_attack_list, default="stealing,membership,adversarial,backdoor",
                   help="comma-separated: stealing,membership,adversarial,backdoor (task accuracy always runs)")
    p.add_argument("--config", type=_run_config, default=None, metavar="JSON|YAML|FILE",
                   help='run config per evaluation asset, e.g. \'{"eval_membership_inference": {"config": {"max_per_side": 1000}}}\' '
                        "(fields and defaults: docs/evaluation.md)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("zoo", help="the demo zoo of tiny digits classifiers")
    zoo_sub = p.add_subparsers(dest="zoo_command", required=True)
    b = zoo_sub.add_parser("build", help="train (or reuse, cached) the zoo under $SN_LAKE_HOME/zoo")
    b.add_argument("--only", nargs="*", default=[], metavar="NAME", help="build only these zoo models")
    b.set_defaults(func=cmd_zoo)

    p = sub.add_parser("crawl", help="crawl one source into the lake")
    p.add_argument("source", choices=sorted(CRAWL_ASSETS))
    p.add_argument("--limit", type=int, help="huggingface: stop listing after N models")
    p.add_argument("--full", action="store_true", help="huggingface: new sweep (no resume) and re-fetch cards already in the lake; "
                   "papers, weights: ask again about every paper id / link, not only the new ones")
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
    p.add_argument("--source", help="e.g. huggingface, kaggle, timm, securitynet, local")
    p.add_argument("--min-accuracy", type=float, help="reported or measured accuracy at least this fraction, e.g. 0.8")
    p.add_argument("--year-from", type=int, help="paper (else hub creation) year at least this")
    p.add_argument("--year-to", type=int, help="paper (else hub creation) year at most this")
    p.add_argument("--license", help="licence id, e.g. apache-2.0")
    p.add_argument("--loadable", action=argparse.BooleanOptionalAction, default=None,
                   help="only models whose weights load without running code (--no-loadable: only the others)")
    p.add_argument("--text", help="text the model id contains")
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
    p.add_argument("--queue", default="dagster", help="Celery queue(s) to consume, comma-separated (steps pick one "
                   "with the dagster-celery/queue tag, e.g. a gpu queue served by GPU machines)")
    p.add_argument("--loglevel", default="INFO")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("ui", help="start Dagster's UI and daemon")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
