"""The code location loads, and its asset graph (keys, groups, dependencies, checks) only changes on purpose.

After an intended change, refresh the snapshot with
``SN_LAKE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_definitions.py`` and review its diff.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from sn_lake.cli import load_definitions

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def asset_graph() -> dict:
    defs = load_definitions()
    graph = defs.resolve_asset_graph()
    nodes = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        nodes[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
        }
    return nodes


def test_definitions_load():
    defs = load_definitions()
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_matches_snapshot():
    graph = asset_graph()
    if os.environ.get("SN_LAKE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(graph, indent=2, sort_keys=True) + "\n")
    assert graph == json.loads(SNAPSHOT.read_text()), "asset graph changed: refresh the snapshot if intended"


def test_groups_are_the_designed_ones():
    allowed = {"crawl", "catalog", "quality", "evaluation", "analytics"}
    assert {node["group"] for node in asset_graph().values()} <= allowed


def test_loading_the_code_location_does_not_import_torch():
    """No PyTorch in the code location: every Dagster process loads it.

    Those are the webserver, the daemon, each step's subprocess and `sn-lake` loading definitions.
    """
    script = (
        "import json, sys; sys.path.insert(0, '.'); import assets.definitions\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'timm'))))\n"
        "print(json.dumps('sn_lake.evaluate.pipeline' in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).parent.parent, capture_output=True, text=True, check=True
    )
    torch_modules, pipeline_loaded = (json.loads(line) for line in out.stdout.splitlines()[-2:])
    assert torch_modules == [] and not pipeline_loaded, (
        f"Expected assets/definitions.py to load without PyTorch, found {torch_modules[:5]} imported "
        f"(pipeline: {pipeline_loaded}): "
        "import torch-using modules inside the asset functions, take constants from sn_lake/evaluate/configs.py."
    )
