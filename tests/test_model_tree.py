"""The model tree: the rules (sn_lake.annotate.lineage), catalog.model_tree from a crawl of the fake Hub, and the
views and search built on it (analytics.model_lineage, analytics.lineage_inheritance, --descends-from)."""

import json

import duckdb
import pytest
from fake_hub import FakeHub, lineage_models, synthetic_models

from sn_lake import catalog, cli, config, search, warehouse
from sn_lake.annotate import lineage
from sn_lake.annotate.model_cards import needs_card
from sn_lake.http_client import RetryPolicy
from sn_lake.sources.huggingface import crawl as hf

FAST = RetryPolicy(attempts=4, backoff_base=0.01, backoff_max=0.05, seed=0)
HF = "huggingface:"


# ------------------------------------------------------------------------------------ the rules


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("google/vit-base-patch16-224", "google/vit-base-patch16-224"),
        ("  https://huggingface.co/google/vit-base-patch16-224/tree/main ", "google/vit-base-patch16-224"),
        ("hf.co/org/name", "org/name"),
        ("gpt2", "gpt2"),  # a legacy id without a namespace
        ("/content/drive/MyDrive/checkpoint-500", None),
        ("./outputs", None),
        ("C:\\models\\vit", None),
        ("None", None),
        ("org/a--b", None),
        ("", None),
        (42, None),
    ],
)
def test_parent_id_keeps_hub_ids_and_refuses_paths_and_placeholders(value, expected):
    assert lineage.parent_id(value) == expected


def test_relation_words_and_what_the_listing_shows():
    assert [lineage.relation_of(w) for w in ("fine-tune", "LoRA", "merged", "quantised", "distilled", None)] == [
        "finetune",
        "adapter",
        "merge",
        "quantized",
        None,
        None,
    ]
    assert lineage.inferred_relation(1, ["gguf"], "transformers") == "quantized"
    assert lineage.inferred_relation(1, [], "peft") == "adapter"
    assert lineage.inferred_relation(2, [], "timm") == "merge"
    assert lineage.inferred_relation(1, ["safetensors"], "timm") == "unknown"


def test_declared_parents_order_evidence_and_relation():
    parents = lineage.declared_parents(
        "me/child",
        card_base=["org/a", "org/b"],
        card_relation="merge",
        tags=["base_model:merge:org/a", "base_model:merge:org/b", "base_model:org/c", "base_model:finetune:ME/CHILD"],
        base_models={"relation": "merge", "models": [{"id": "org/a"}, {"id": "org/d"}]},
    )
    assert parents == [
        lineage.Parent("org/a", "merge", "card"),
        lineage.Parent("org/b", "merge", "card"),
        lineage.Parent("org/c", "merge", "tag"),  # no relation of its own: the listing shows several parents
        lineage.Parent("org/d", "merge", "model_info"),
    ]
    # the card's front matter stands in for a missing cardData; the prose is read only when nothing else declares
    card = (
        "---\nbase_model: org/yaml\nbase_model_relation: quantized\n---\n"
        "This model is a fine-tuned version of [org/prose](x)."
    )
    assert lineage.declared_parents("me/x", card_text=card) == [lineage.Parent("org/yaml", "quantized", "card")]
    prose = "# x\n\nThis model is a fine-tuned version of [org/prose](https://huggingface.co/org/prose) on beans."
    assert lineage.declared_parents("me/x", card_text=prose) == [lineage.Parent("org/prose", "finetune", "card")]
    tagged = lineage.declared_parents("me/x", card_text=prose, tags=["base_model:org/t"])
    assert tagged == [lineage.Parent("org/t", "unknown", "tag")]
    assert lineage.declared_parents("me/x") == []


def test_resolve_and_tree_edges():
    known = {"huggingface:org/root": "huggingface:Org/Root", "timm:resnet18.a1_in1k": "timm:resnet18.a1_in1k"}
    assert lineage.resolve("ORG/root", known) == "huggingface:Org/Root"
    # timm's own id when the Hub copy is not in the catalog
    assert lineage.resolve("timm/resnet18.a1_in1k", known) == "timm:resnet18.a1_in1k"
    assert lineage.resolve("org/elsewhere", known) == "huggingface:org/elsewhere"
    rows = lineage.tree_edges(
        [
            (HF + "me/a", "org/root", "finetune", "card"),
            (HF + "me/a", "Org/Root", "unknown", "tag"),
            (HF + "Org/Root", "org/root", "unknown", "tag"),
        ],
        known,
    )
    assert rows == [{"child_id": HF + "me/a", "parent_id": HF + "Org/Root", "relation": "finetune", "evidence": "card"}]
    with pytest.raises(ValueError, match="Expected a relation in"):
        lineage.tree_edges([(HF + "me/a", "org/root", "distilled", "card")], known)


# ------------------------------------------------------------------------------------ through a crawl


@pytest.fixture(scope="module")
def tree_warehouse(tmp_path_factory):
    """A crawl of a fake Hub holding every tree case (and 200 synthetic models), built into a warehouse with views."""
    models, expected = lineage_models()
    home = tmp_path_factory.mktemp("tree") / "home"
    with FakeHub(models + synthetic_models(200, seed=5), max_page_size=50) as hub, pytest.MonkeyPatch.context() as mp:
        mp.setenv("SN_LAKE_HOME", str(home))
        mp.setenv("HF_ENDPOINT", hub.url)
        mp.delenv("HF_TOKEN", raising=False)
        settings = config.load()
        summary = hf.crawl(settings, hf.CrawlConfig(retry=FAST))
        listed = [m for m in hub.models() if m.get("pipeline_tag") == "image-classification"]
        cards = [r for r in hub.request_log if "/resolve/" in r.path]
        con = warehouse.connect(settings)
        catalog.build_models(settings, con)
        warehouse.apply_sql(con, "views")
        state = {"con": con, "expected": expected, "summary": summary, "listed": listed, "cards": cards, "home": home}
        yield state
        state["con"].close()


def test_the_tree_matches_every_declared_edge_and_costs_no_request(tree_warehouse):
    con = tree_warehouse["con"]
    edges = set(con.execute("SELECT child_id, parent_id, relation, evidence FROM catalog.model_tree").fetchall())
    tree_cases = {e for e in edges if e[0].startswith(HF + "tree/")}
    assert tree_cases == tree_warehouse["expected"]
    n_rows, n_pairs = con.execute(
        "SELECT count(*), count(DISTINCT (child_id, parent_id)) FROM catalog.model_tree"
    ).fetchone()
    assert n_rows == n_pairs == len(edges)
    # every synthetic model declares its base (cardData + tag, or only the Trainer's prose in a fetched card)
    synthetic = [m for m in tree_warehouse["listed"] if "-finetuned-" in m["id"]]
    children = {e[0] for e in edges}
    assert {HF + m["id"] for m in synthetic} <= children
    # the tree adds no request: listing pages plus the cards the dataset/paper/accuracy rules want, nothing else
    summary = tree_warehouse["summary"]
    wanted = sum(1 for m in tree_warehouse["listed"] if needs_card(m))
    assert summary["requests"] == summary["pages"] + wanted == summary["pages"] + len(tree_warehouse["cards"])
    # a parent outside the catalog keeps its Hub id; the others are catalog ids
    parents = {e[1] for e in tree_cases}
    in_catalog = {r[0] for r in con.execute("SELECT model_id FROM catalog.models").fetchall()}
    assert parents - in_catalog == {HF + "facebook/not-crawled"}


def test_model_lineage_is_recursive_cycle_safe_and_shortest(tree_warehouse):
    con = tree_warehouse["con"]
    lineage_rows = dict(
        ((m, a), d)
        for m, a, d in con.execute(
            "SELECT model_id, ancestor_id, depth FROM analytics.model_lineage WHERE model_id LIKE 'huggingface:tree/%'"
        ).fetchall()
    )
    root, scalar = HF + "base-org/vit-root", HF + "tree/scalar-child"
    assert lineage_rows[(HF + "tree/bare-prose", scalar)] == 1
    assert lineage_rows[(HF + "tree/bare-prose", root)] == 2
    assert lineage_rows[(HF + "tree/merged", root)] == 1  # also through scalar-child at depth 2: the shortest wins
    assert lineage_rows[(HF + "tree/card-beats-tag", root)] == 2
    assert lineage_rows[(HF + "tree/from-model-info", root)] == 2
    # the cycle: each is the other's parent, never its own ancestor, and the walk stops
    assert lineage_rows[(HF + "tree/cycle-a", HF + "tree/cycle-b")] == 1
    assert lineage_rows[(HF + "tree/cycle-b", HF + "tree/cycle-a")] == 1
    assert not [k for k in lineage_rows if k[0] == k[1]]
    assert not [k for k in lineage_rows if k[0] == root]


def test_lineage_depth_is_capped_on_a_long_chain():
    con = duckdb.connect()
    for path in (*warehouse.sql_files("schema"), *warehouse.sql_files("views")):
        con.execute(path.read_text())
    chain = [(f"m{i}", f"m{i + 1}", "finetune", "card") for i in range(40)]
    con.executemany("INSERT INTO catalog.model_tree VALUES (?, ?, ?, ?)", chain)
    depth, ancestors = con.execute(
        "SELECT max(depth), count(*) FILTER (WHERE model_id = 'm0') FROM analytics.model_lineage"
    ).fetchone()
    assert depth == lineage.MAX_DEPTH and ancestors == lineage.MAX_DEPTH


def test_search_descends_from(tree_warehouse, monkeypatch, capsys):
    con = tree_warehouse["con"]
    _, rows = search.search(con, search.Filters(descends_from="base-org/vit-root", limit=100))
    found = {r[0] for r in rows}
    assert HF + "tree/bare-prose" in found and HF + "tree/from-model-info" in found and HF + "tree/list-one" in found
    assert HF + "base-org/vit-root" not in found and HF + "tree/cycle-a" not in found
    _, same = search.search(con, search.Filters(descends_from=HF + "BASE-ORG/vit-root", limit=100))
    assert {r[0] for r in same} == found
    _, none = search.search(con, search.Filters(descends_from="tree/bare-prose"))
    assert none == []
    # `sn-lake search --descends-from` on the same warehouse (read-only, so close the writer first)
    con.execute("CHECKPOINT")
    monkeypatch.setenv("SN_LAKE_HOME", str(tree_warehouse["home"]))
    con.close()
    try:
        assert cli.main(["search", "--descends-from", "tree/scalar-child", "--limit", "50", "--format", "json"]) == 0
        shown = {r["model_id"] for r in json.loads(capsys.readouterr().out)}
    finally:
        tree_warehouse["con"] = warehouse.connect(config.load())
    assert shown == {HF + "tree/merged", HF + "tree/plain-tag", HF + "tree/bare-prose", HF + "tree/card-beats-tag"}


def test_lineage_inheritance_compares_parents_with_their_children(tree_warehouse):
    con = tree_warehouse["con"]
    root = HF + "base-org/vit-root"
    kids = [HF + "tree/scalar-child", HF + "tree/list-one", HF + "tree/quantized-by-tag"]
    con.execute("DELETE FROM results.backdoor_detection")
    con.execute("DELETE FROM results.adversarial")
    flagged = {root: True, kids[0]: True, kids[1]: False, kids[2]: False}
    for model_id, verdict in flagged.items():
        con.execute(
            "INSERT INTO results.backdoor_detection (model_id, origin, detector, flagged, computed_at) "
            "VALUES (?, 'computed', 'neural_cleanse', ?, now())",
            [model_id, verdict],
        )
    # an older run of a child said otherwise: the latest verdict counts; a published figure is not ours
    con.execute(
        "INSERT INTO results.backdoor_detection (model_id, origin, detector, flagged, computed_at) "
        "VALUES (?, 'computed', 'neural_cleanse', true, now() - INTERVAL 1 DAY)",
        [kids[1]],
    )
    con.execute(
        "INSERT INTO results.backdoor_detection (model_id, origin, detector, flagged) "
        "VALUES (?, 'published:securitynet', 'neural_cleanse', true)",
        [kids[2]],
    )
    robust = {root: 0.40, kids[0]: 0.30, kids[1]: 0.20}
    for model_id, value in robust.items():
        con.execute(
            "INSERT INTO results.adversarial (model_id, origin, setting, attack, epsilon, robust_accuracy) "
            "VALUES (?, 'computed', 'white-box', 'pgd', 0.03, ?)",
            [model_id, value],
        )
    con.execute(
        "INSERT INTO results.adversarial (model_id, origin, setting, attack, epsilon, robust_accuracy) "
        "VALUES (?, 'computed', 'white-box', 'pgd', 0.1, 0.05)",
        [kids[2]],
    )  # another epsilon: not compared
    rows = con.execute(
        "SELECT family, metric, attack, epsilon, n_children, parent_metric, mean_child_metric, n_children_lower "
        "FROM analytics.lineage_inheritance WHERE parent_id = ? ORDER BY family",
        [root],
    ).fetchall()
    (adv, nc) = rows
    assert adv[:5] == ("adversarial", "robust_accuracy", "pgd", 0.03, 2)
    assert adv[5] == pytest.approx(0.40) and adv[6] == pytest.approx(0.25) and adv[7] == 2
    assert nc[:5] == ("backdoor_detection", "flagged", "neural_cleanse", None, 3)
    assert nc[5] == 1.0 and nc[6] == pytest.approx(1 / 3) and nc[7] == 2
