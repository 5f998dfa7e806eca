"""The Dagster webserver serves our code location, and its GraphQL shows crawl -> catalog -> analytics."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sn_lake import config

LINEAGE_QUERY = """
{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(sn_home, tmp_path):
    port = free_port()
    log = (tmp_path / "webserver.log").open("w")
    workspace = config.DAGSTER_HOME_DIR / "workspace.yaml"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-webserver")), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):  # up to two minutes for the code server to load on a busy machine
            if proc.poll() is not None:
                pytest.fail(f"dagster-webserver exited with {proc.returncode}: {(tmp_path / 'webserver.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("dagster-webserver did not answer within two minutes")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def asset_nodes(url: str) -> dict[str, dict]:
    for _ in range(120):  # the code location may still be loading after the server answers
        body = httpx.post(f"{url}/graphql", json={"query": LINEAGE_QUERY}, timeout=30).json()
        nodes = (body.get("data") or {}).get("assetNodes") or []
        if nodes:
            return {
                "/".join(n["assetKey"]["path"]): {"group": n["groupName"], "deps": {"/".join(d["path"]) for d in n["dependencyKeys"]}}
                for n in nodes
            }
        time.sleep(0.5)
    pytest.fail(f"the webserver's GraphQL returned no asset nodes: {body}")


def test_graphql_shows_crawl_catalog_analytics_lineage(webserver):
    nodes = asset_nodes(webserver)
    assert nodes["raw_timm"]["group"] == "crawl"
    assert nodes["catalog_models"]["group"] == "catalog"
    assert nodes["analytics_views"]["group"] == "analytics"
    assert "raw_timm" in nodes["catalog_models"]["deps"]
    assert "catalog_models" in nodes["analytics_views"]["deps"]
