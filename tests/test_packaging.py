"""A non-editable install works: ``sql/`` ships as package data and the installed library finds and applies it.

The project is built once into a wheel (offline: ``--no-index --no-build-isolation``, this environment's
setuptools) from a copy of its files, so nothing is written into the working tree, and installed with
``--no-deps`` into a fresh virtual environment whose only other packages are this environment's (a ``.pth``
line), so the test is fast and needs no network. The installed ``sn_lake`` then builds a warehouse.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from sn_lake import config

pytestmark = pytest.mark.slow

SHIPPED = ("pyproject.toml", "README.md", "sn_lake", "sql")  # what a build of the project reads

PROBE = """
import json, sys
from sn_lake import config, warehouse
settings = config.load()
con = warehouse.connect(settings)
warehouse.apply_sql(con, "views")
tables = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()
print(json.dumps({"package": config.__file__, "sql_dir": str(config.SQL_DIR),
                  "kinds": {k: [p.name for p in warehouse.sql_files(k)] for k in ("schema", "views", "queries")},
                  "relations": sorted(t for (t,) in tables)}))
"""


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def test_a_non_editable_install_ships_and_applies_the_sql(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SHIPPED:
        path = config.PROJECT_ROOT / name
        if path.is_dir():  # symlinks=True: sn_lake/_sql stays a link to ../sql, as in a clone
            shutil.copytree(path, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, source / name)
    wheels = tmp_path / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "-q",
        "-w",
        str(wheels),
        str(source),
    )
    (wheel,) = wheels.glob("sn_lake-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    target = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", str(target), "install", "--no-deps", "--no-index", "-q", str(wheel))
    purelib = Path(_run(str(target), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    # the dependencies, from this environment: a path line after the venv's own site-packages (this
    # environment's editable install of sn_lake is a .pth of its own there, which a path line does not run)
    (purelib / "_sn_lake_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")

    home = tmp_path / "home"
    probe = _run(str(target), "-c", PROBE, cwd=tmp_path, env={"SN_LAKE_HOME": str(home), "PATH": "/usr/bin:/bin"})
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(purelib), f"imported {found['package']}, not the installed copy"
    assert Path(found["sql_dir"]).is_relative_to(purelib) and not Path(found["sql_dir"]).is_symlink()
    for kind, names in found["kinds"].items():
        assert names == sorted(p.name for p in (config.PROJECT_ROOT / "sql" / kind).glob("*.sql")), kind
    assert {"catalog.models", "results.adversarial", "analytics.quality_report"} <= set(found["relations"])
