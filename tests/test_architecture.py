"""The layers point down, read from the import graph: every import of every module, lazy ones included.

No module under sn_lake/sources imports the warehouse or the catalog; sn_lake/evaluate imports no source; only
sn_lake/cli.py imports Dagster (docs/architecture.md, "Three layers, pointing down").
"""

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sn_lake"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module name ``source`` imports, at any depth (inside functions too); ``from a import b`` gives ``a.b``
    as well as ``a``, since ``b`` may be a module; relative imports are resolved against ``module``."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            names.add(stem)
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    """``module -> the module names it imports``, for every module of ``sn_lake/``."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        out[name] = imported(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    return out


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def offending(modules: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in graph().items()
        if under(module, modules) and module not in allowed
        for name in names
        if any(under(name, f) for f in forbidden)
    )


def test_the_walker_sees_lazy_and_relative_imports():
    source = "import os\nfrom . import lake\ndef f():\n    from sn_lake import warehouse\n    import dagster as dg\n"
    names = imported(source, "sn_lake.sources.x")
    assert {"os", "sn_lake.sources", "sn_lake.sources.lake", "sn_lake.warehouse", "dagster"} <= names
    assert "sn_lake.sources.huggingface.crawl" in imported(
        "from .crawl import crawl", "sn_lake.sources.huggingface", True
    )
    assert len(graph()) > 50  # it read the package, not an empty folder


@pytest.mark.parametrize("forbidden", ["sn_lake.warehouse", "sn_lake.catalog"])
def test_no_source_imports_the_warehouse_or_the_catalog(forbidden):
    """A crawl takes the ids it needs from the catalog as arguments, from its asset; a catalog builder
    (sn_lake/catalog/) writes the warehouse."""
    assert offending("sn_lake.sources", (forbidden,)) == []


def test_the_evaluation_imports_no_source():
    """Loading a model imports no crawler: the formats, the HTTP and the Kaggle clients sit below the sources."""
    assert offending("sn_lake.evaluate", ("sn_lake.sources",)) == []


def test_only_the_cli_imports_dagster():
    assert offending("sn_lake", ("dagster", "dagster_graphql", "dagster_webserver"), allowed=("sn_lake.cli",)) == []


def test_the_catalog_schema_is_read_from_the_sql():
    """sql/schema/ defines catalog.models; the builders' polars schemas are read from it, never written again."""
    import duckdb
    import polars as pl

    from sn_lake import catalog, warehouse
    from sn_lake.catalog import schema

    con = duckdb.connect(":memory:")
    warehouse.apply_sql(con, "schema")
    described = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'catalog' AND table_name = 'models' ORDER BY ordinal_position"
    ).fetchall()
    con.close()
    duckdb_names = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
    assert schema.columns() == {name: duckdb_names.get(kind, kind) for name, kind in described}
    assert schema.models_schema("model_id", "num_classes", "last_seen_at") == {
        "model_id": pl.String,
        "num_classes": pl.Int32,
        "last_seen_at": pl.Datetime("us", "UTC"),
    }
    assert list(schema.QUARANTINE_SCHEMA) == ["table_name", "row_key", "rule", "detail", "detected_at"]
    with pytest.raises(ValueError, match="add them to sql/schema/"):
        schema.models_schema("model_id", "not_a_column")
    for source in catalog.SOURCES.values():  # every source is registered with the one contract, one signature
        assert source.to_catalog.__module__.startswith("sn_lake.catalog."), source.name
        assert list(inspect.signature(source.to_catalog).parameters) == ["con", "raw", "issues"], source.name
        assert source.crawl.__module__.startswith("sn_lake.sources.") and source.crawl.__name__ == "crawl", source.name
