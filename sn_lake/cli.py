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

from sn_lake import config, lake, warehouse

# source name -> the asset key of its crawl
CRAWL_ASSETS = {"timm": "raw_timm"}


def _dagster_home() -> str:
    """DAGSTER_HOME as an absolute path, defaulting to the project's dagster_home/."""
    home = os.path.abspath(os.environ.get("DAGSTER_HOME") or config.DAGSTER_HOME_DIR)
    os.environ["DAGSTER_HOME"] = home
    return home


def load_definitions():
    """The code location's Definitions, loaded the way dagster_home/workspace.yaml loads them."""
    root = str(config.PROJECT_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    from assets.definitions import defs

    return defs


def materialize(selection: str) -> bool:
    """Materialize an asset selection (Dagster's selection syntax) against the DAGSTER_HOME instance."""
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    _dagster_home()
    defs = load_definitions()
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [*defs.assets, *(defs.asset_checks or [])],
            selection=dg.AssetSelection.from_string(selection),
            resources=defs.resources,
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
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
    return 0 if materialize(args.select) else 1


def cmd_crawl(args) -> int:
    return 0 if materialize(f"key:{CRAWL_ASSETS[args.source]}") else 1


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


def cmd_status(args) -> int:
    settings = config.load()
    print(f"SN_LAKE_HOME: {settings.home}")
    rows = lake.summary(settings)
    if not rows:
        print("The lake is empty: run `sn-lake run` (or `sn-lake crawl SOURCE`).")
        return 0
    print_rows(list(rows[0]), [tuple(r.values()) for r in rows], "table")
    if settings.warehouse_path.exists():
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn-lake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="materialize assets through Dagster (default: everything)")
    p.add_argument("--select", default="*", help="Dagster asset selection, e.g. 'group:catalog or group:analytics'")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("crawl", help="crawl one source into the lake")
    p.add_argument("source", choices=sorted(CRAWL_ASSETS))
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("sql", help="run a query on the warehouse, opened read-only")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("status", help="what the lake and the warehouse hold")
    p.set_defaults(func=cmd_status)

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
