"""The lineage as a user sees it: a real dagster-webserver on a free loopback port (started once for
this module), its GraphQL API, and the global asset lineage page rendered by headless Chromium.

Chromium is Debian's ``chromium`` package (``make test`` installs it when it can). Without it the
browser test is skipped with the reason in the summary; the GraphQL test always runs.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sn_lake import config
from sn_lake.cli import load_definitions

pytestmark = pytest.mark.slow

LINEAGE_QUERY = """
{
  assetNodes {
    assetKey { path } groupName kinds description
    dependencyKeys { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
  repositoriesOrError {
    ... on RepositoryConnection {
      nodes {
        schedules { name cronSchedule scheduleState { status } }
        sensors { name sensorState { status } }
      }
    }
  }
}
"""
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    """One dagster-webserver, loading dagster_home/workspace.yaml as `sn-lake ui` does, for this module's tests."""
    root = tmp_path_factory.mktemp("ui_lineage")
    dagster_home = root / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(config.DAGSTER_HOME_DIR / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "SN_LAKE_HOME": str(root / "sn_home")}
    port = free_port()
    log_path = root / "webserver.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster-webserver")),
                "-w",
                str(config.DAGSTER_HOME_DIR / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):  # up to two minutes for the code server to load on a busy machine
                if proc.poll() is not None:
                    pytest.fail(f"dagster-webserver exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
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


@pytest.fixture(scope="module")
def ui(webserver) -> dict:
    """The asset nodes, schedules and sensors the webserver's GraphQL API reports."""
    body = {}
    for _ in range(120):  # the code location may still be loading after the server answers
        body = httpx.post(f"{webserver}/graphql", json={"query": LINEAGE_QUERY}, timeout=30).json()
        if (body.get("data") or {}).get("assetNodes"):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the webserver's GraphQL returned no asset nodes: {body}")
    nodes = {
        "/".join(n["assetKey"]["path"]): {
            "group": n["groupName"],
            "kinds": set(n["kinds"]),
            "description": n["description"],
            "deps": {"/".join(d["path"]) for d in n["dependencyKeys"]},
            "checks": {c["name"]: c["blocking"] for c in (n["assetChecksOrError"] or {}).get("checks", [])},
        }
        for n in body["data"]["assetNodes"]
    }
    (repository,) = body["data"]["repositoriesOrError"]["nodes"]
    return {"nodes": nodes, "schedules": repository["schedules"], "sensors": repository["sensors"]}


def upstream_of(nodes: dict, key: str) -> set[str]:
    seen, todo = set(), [key]
    while todo:
        for dep in nodes[todo.pop()]["deps"]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_graphql_shows_crawl_catalog_analytics(ui):
    nodes = ui["nodes"]
    assert (nodes["raw_timm"]["group"], nodes["catalog_models"]["group"], nodes["analytics_views"]["group"]) == (
        "crawl",
        "catalog",
        "analytics",
    )
    assert "raw_timm" in nodes["catalog_models"]["deps"]
    assert "catalog_models" in nodes["analytics_views"]["deps"]


def test_graphql_shows_the_full_lineage(ui):
    nodes = ui["nodes"]
    # the UI shows exactly the code's graph
    graph = load_definitions().resolve_asset_graph()
    assert {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()
    } == {k: n["deps"] for k, n in nodes.items()}
    by_group = {g: {k for k, n in nodes.items() if n["group"] == g} for g in {n["group"] for n in nodes.values()}}
    assert {"raw_timm", "raw_huggingface", "raw_kaggle", "raw_securitynet", "raw_papers"} <= by_group["crawl"]

    # every source -> catalog -> views
    feeding_views = upstream_of(nodes, "analytics_views")
    assert by_group["crawl"] <= feeding_views
    assert {"catalog_models", "catalog_papers"} <= feeding_views
    # the catalog is guarded by blocking quality checks
    assert nodes["catalog_models"]["checks"].get("catalog_models_rules") is True
    assert nodes["catalog_papers"]["checks"].get("catalog_papers_rules") is True
    # catalog -> evaluation -> views, where the evaluation assets exist
    for key in by_group.get("evaluation", set()):
        assert "catalog_models" in upstream_of(nodes, key), key
        assert key in feeding_views, key
    # every asset explains itself and says what it is built with
    assert all(n["description"] and n["kinds"] for n in nodes.values()), [k for k, n in nodes.items() if not n["kinds"]]


def test_graphql_shows_the_automation(ui):
    schedules = {s["name"]: s for s in ui["schedules"]}
    assert schedules["timm_daily_crawl"]["cronSchedule"] == config.crawl_cron("timm")
    assert schedules["timm_daily_crawl"]["scheduleState"]["status"] == "RUNNING"
    sensors = {s["name"]: s for s in ui["sensors"]}
    assert sensors["new_evaluable_models"]["sensorState"]["status"] == "STOPPED"  # switched on in the UI


class DevTools:
    """A minimal Chrome DevTools Protocol client over the page's websocket."""

    def __init__(self, websocket_url: str):
        from websockets.sync.client import connect

        self.socket = connect(websocket_url, max_size=None)
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method} failed: {message['error']}")
                return message.get("result", {})

    def text_nodes(self) -> list[str]:
        """The text of every text node of the page, one string each."""
        script = (
            "(() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); const out = [];"
            " while (w.nextNode()) { out.push(w.currentNode.data.trim()); } return out; })()"
        )
        return self.call("Runtime.evaluate", expression=script, returnByValue=True)["result"].get("value", [])

    def text(self) -> str:
        result = self.call(
            "Runtime.evaluate", expression="document.body ? document.body.textContent : ''", returnByValue=True
        )
        return result["result"].get("value", "")

    def wait_for(self, predicate, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        text = self.text()
        while not predicate(text) and time.monotonic() < deadline:
            time.sleep(0.5)
            text = self.text()
        return text

    def close(self) -> None:
        self.socket.close()


def label_shows(label: str, name: str) -> bool:
    """Whether a node label shows an asset name: whole, or cut in the middle as the UI does for long
    names (``catalog_wei…_files``), keeping at least half of it."""
    if label == name:
        return True
    head, ellipsis, tail = label.partition("…")
    return bool(ellipsis) and name.startswith(head) and name.endswith(tail) and len(head) + len(tail) >= len(name) / 2


def test_label_shows():
    assert label_shows("raw_timm", "raw_timm") and label_shows("catalog_wei…_files", "catalog_weight_files")
    assert not label_shows("raw_tim", "raw_timm") and not label_shows("c…s", "catalog_weight_files")
    assert not label_shows("catalog_mo…_files", "catalog_weight_files")


def test_global_lineage_page_renders_asset_names_in_chromium(webserver, ui, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "LOUD SKIP: Debian's `chromium` is not installed, so the UI lineage page was NOT checked in a browser; "
            "`make test` installs it (apt-get, as root), or run `apt-get install chromium`."
        )
    browser = subprocess.Popen(
        [
            chromium,
            *CHROMIUM_FLAGS,
            "--remote-debugging-port=0",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=7000,6000",
            "about:blank",
        ],  # large enough for the whole expanded graph to be on screen
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = None
        for line in browser.stderr:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "chromium did not open its DevTools port"
        (page,) = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json() if t["type"] == "page"]
        tools = DevTools(page["webSocketDebuggerUrl"])
        tools.call("Page.enable")
        tools.call("Page.navigate", url=f"{webserver}/asset-groups")
        groups = {n["group"] for n in ui["nodes"].values()}
        shown = tools.wait_for(lambda text: "Global asset lineage" in text and all(g in text for g in groups), 90)
        assert "Global asset lineage" in shown and all(g in shown for g in groups), shown[-2000:]
        # the page opens with one box per group; Alt+E (the page's own shortcut) expands every group
        names = set(ui["nodes"])
        missing = names
        deadline = time.monotonic() + 90
        while missing and time.monotonic() < deadline:
            if "Expand all groups" in tools.text():  # (again, if the page was not listening yet)
                for kind in ("rawKeyDown", "keyUp"):
                    tools.call(
                        "Input.dispatchKeyEvent", type=kind, modifiers=1, code="KeyE", key="e", windowsVirtualKeyCode=69
                    )
            time.sleep(1)
            labels = tools.text_nodes()
            missing = {name for name in names if not any(label_shows(label, name) for label in labels)}
        assert not missing, f"asset names not rendered: {sorted(missing)}; page text: {tools.text()[-2000:]}"
        tools.close()
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
