"""The one resource every asset uses: where the lake and the warehouse live."""

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from sn_lake import config, warehouse


class SnLake(dg.ConfigurableResource):
    """sn_lake's settings; ``home`` overrides ``SN_LAKE_HOME`` when set."""

    home: str | None = None

    def settings(self) -> config.Settings:
        settings = config.load()
        return dataclasses.replace(settings, home=Path(self.home).resolve()) if self.home else settings

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write warehouse connection; use it only from assets in the ``duckdb_write`` pool."""
        con = warehouse.connect(self.settings())
        try:
            yield con
        finally:
            con.close()
