"""Property-based tests: random and hostile JSON and YAML payloads through every source's parser and the catalog build.

Deep nesting, huge integers, NaN and infinities, wrong types in every field, lone surrogates, YAML aliases and
tags: the parsers never raise, every value that reaches a typed column is in its range, and a catalog build into a
real DuckDB file never fails and accounts for every record (a catalog row, or a ``record.unreadable`` entry).
"""

import dataclasses
import json
import math
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sn_lake import catalog, config, lake, warehouse
from sn_lake.annotate import model_cards, numbers
from sn_lake.catalog import papers as papers_resolve
from sn_lake.sources import huggingface, kaggle, local, securitynet, timm_registry
from sn_lake.sources.papers import crawl as papers_crawl
from sn_lake.sources.robustbench import parse as robustbench_parse
from sn_lake.sources.securitynet import parse as securitynet_parse
from sn_lake.sources.timm_results import parse as timm_results_parse

QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=QUIET)
BUILD = settings(max_examples=12, deadline=None, suppress_health_check=QUIET)
ENDPOINT = "http://127.0.0.1:9"

# --- hostile values ----------------------------------------------------------------------------------------------

surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
texts = st.one_of(
    st.text(max_size=12),
    surrogates,
    st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "nan",
            "inf",
            "-1",
            "97.5%",
            "1.5",
            "1e999",
            "10000000000",
            "0x10",
            "１２",
            "\x00",
            "true",
            "../../etc/passwd",
            "http://user:pw@host/x",
            "http://[broken",
            "https://h:port/x",
            "dataset:cifar10",
            "arxiv:2010.11929",
        ]
    ),
)
numbers_ = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 8193, 1_000_001, 2**31 - 1, 2**31, 2**62 + 1, 2**63, -(2**63) - 1, 10**10, 10**100]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers_, texts)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=10
)


def _nest(depth: int, as_dict: bool):
    value: object = "bottom"
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


deep = st.builds(_nest, st.integers(min_value=20, max_value=400), st.booleans())
hostile = st.one_of(json_values, deep)


def field(plausible):
    """A field's value: usually a plausible one, often anything at all."""
    return st.one_of(plausible, hostile)


def some(**fields):
    """An object with any subset of ``fields`` (a strategy each)."""
    return st.fixed_dictionaries({}, optional=fields)


# --- hostile records of each source ------------------------------------------------------------------------------

metric = st.fixed_dictionaries(
    {
        "type": field(st.sampled_from(["accuracy", "top1", "Top-1 Accuracy", "f1"])),
        "value": field(st.one_of(numbers_, st.sampled_from([True, "97.5%", 1.5, "0.9"]))),
    }
)
result = st.fixed_dictionaries(
    {
        "dataset": field(some(type=field(st.sampled_from(["cifar10", "imagenet-1k"])))),
        "metrics": field(st.lists(metric, max_size=3)),
    }
)
model_index = st.lists(st.fixed_dictionaries({"results": field(st.lists(result, max_size=2))}), max_size=2)
sizes = field(st.lists(numbers_, max_size=3))
hub_config = some(
    num_classes=field(numbers_),
    model_type=field(st.sampled_from(["vit", "resnet"])),
    architecture=field(st.sampled_from(["resnet18", "vit_base_patch16_224"])),
    architectures=field(st.lists(texts, max_size=2)),
    id2label=field(st.dictionaries(texts, texts, max_size=3)),
    pretrained_cfg=field(some(input_size=sizes, num_classes=field(numbers_))),
)
hub_ids = st.one_of(st.text(min_size=1, max_size=16), st.builds(lambda a, b: f"{a}/{b}", texts, texts))
card_keys = st.sampled_from(["datasets", "license", "base_model", "model-index"])
listing = st.fixed_dictionaries(
    {"id": st.one_of(hub_ids, st.integers(1, 10**6))},
    optional={
        "sha": field(st.text("0123456789abcdef", min_size=6, max_size=8)),
        "tags": field(st.lists(texts, max_size=4)),
        "cardData": field(st.dictionaries(card_keys, hostile, max_size=3)),
        "model-index": field(model_index),
        "config": field(hub_config),
        "downloads": field(numbers_),
        "likes": field(numbers_),
        "library_name": field(st.sampled_from(["timm", "transformers"])),
        "safetensors": hostile,
        "siblings": hostile,
        "createdAt": field(st.sampled_from(["2024-01-01T00:00:00.000Z", "2022-03-02T23:29:04.000Z", "9999-99-99"])),
        "lastModified": field(st.sampled_from(["2024-05-01T10:00:00.000Z", "yesterday"])),
        "baseModels": hostile,
    },
)

YAML_SNIPPETS = [
    'a: &a ["lol","lol","lol"]\nb: &b [*a,*a,*a]\nc: [*b,*b,*b]\n',  # aliases (a small "billion laughs")
    "x: " + "[" * 2000 + "\n",  # deeper than libyaml allows
    "d: 2024-13-45\n",  # a timestamp that is no date
    "!!python/object/apply:os.system ['echo pwned']\n",  # a tag the safe loader refuses
    "- just\n- a list\n",
    "datasets:\n  - cifar10\nmodel-index:\n  - results:\n      - metrics:\n          - type: accuracy\n"
    "            value: true\n",
    "key: value\n" * 7000,  # longer than the front-matter cap
    "\t- tabs are not YAML\n",
    "num_classes: 10000000000\nlicense: [1, {a: b}]\n",
]
front_matter = st.one_of(
    st.sampled_from(YAML_SNIPPETS), json_values.map(lambda v: json.dumps(v, ensure_ascii=False)), texts
)
bodies = st.one_of(
    texts,
    st.sampled_from(
        [
            "- Accuracy: 0.98",
            "- Accuracy: 150",
            "- Accuracy: 97.5%",
            "This model is a fine-tuned version of [a/b](u) on the cifar10 dataset.",
        ]
    ),
)
cards = st.one_of(texts, st.builds(lambda fm, body: f"---\n{fm}\n---\n{body}", front_matter, bodies))

kaggle_record = st.fixed_dictionaries(
    {
        "owner": field(texts),
        "model_slug": field(texts),
        "model": field(
            some(
                voteCount=field(numbers_),
                publishTime=field(texts),
                updateTime=field(texts),
                description=field(texts),
                instances=hostile,
            )
        ),
        "instance": field(
            st.fixed_dictionaries(
                {"slug": field(texts)},
                optional={
                    "framework": field(st.sampled_from(["MODEL_FRAMEWORK_PY_TORCH", "pyTorch"])),
                    "trainingData": field(st.lists(texts, max_size=3)),
                    "versionNumber": field(numbers_),
                    "license": field(st.fixed_dictionaries({"name": field(texts)})),
                    "overview": field(texts),
                },
            )
        ),
    }
)
timm_record = st.fixed_dictionaries(
    {
        "name": field(texts),
        "timm_version": field(texts),
        "pretrained_cfg": field(
            some(
                num_classes=field(numbers_),
                input_size=sizes,
                tag=field(texts),
                hf_hub_id=field(texts),
                paper_ids=field(texts),
                license=field(texts),
                url=field(texts),
                architecture=field(texts),
            )
        ),
    }
)
local_record = st.fixed_dictionaries(
    {
        "name": field(texts),
        "config": field(
            some(
                architecture=field(texts),
                num_classes=field(numbers_),
                pretrained_cfg=field(some(input_size=sizes, dataset=field(texts))),
                sn_lake=field(
                    some(
                        dataset=field(texts),
                        backdoor=hostile,
                        metrics=field(st.fixed_dictionaries({"test_accuracy": field(numbers_)})),
                    )
                ),
            )
        ),
        "weights_file": field(st.sampled_from(["model.safetensors", "model.pth", None])),
        "weights_sha256_12": field(texts),
        "path": field(st.sampled_from(["/tmp/zoo/m", "relative/path"])),
        "card": field(cards),
    }
)
HEADER = "| Model Name | Model Type | Data Name | Num Class | Test Accuracy | Purpose | Weights |"
cell = st.one_of(
    texts,
    st.sampled_from(
        [
            "ResNet18",
            "cifar10",
            "10",
            "0",
            "nan",
            "1e400",
            "0.93",
            "99",
            "security",
            "[w](https://x.org/w.pth)",
            "[w](http://[broken)",
            "a | b",
            "-" * 30 + " " * 2000 + "x",
        ]
    ),
)
# a cell never ends its line, and never looks like a separator row's (only dashes, colons and pipes)
cell = cell.map(lambda c: " ".join(c.splitlines())).filter(lambda c: not (set(c) <= set("-:| \t") and "-" in c))
table_line = st.lists(cell, min_size=5, max_size=8).map(lambda cells: "| " + " | ".join(cells) + " |")
markdown = st.builds(
    lambda rows, heading: f"## {heading} models\n\n{HEADER}\n|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n",
    st.lists(table_line, max_size=6),
    st.sampled_from(["Benchmark", "Security", "Odd"]),
)
table_record = st.builds(
    lambda text, sha: {"format": "markdown", "sha256": sha, "text": text},
    markdown,
    st.text("0123456789abcdef", max_size=8),
)
securitynet_payload = st.one_of(table_record, hostile)


# --- parsers alone -------------------------------------------------------------------------------------------------


def _typed(value, low: float, high: float) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float)) and low <= value <= high)


@FAST
@given(listing, st.none() | cards)
def test_card_summary_never_raises_and_every_number_is_in_range(model, card):
    summary = model_cards.card_summary(model, card)
    accuracy = summary["accuracy"]
    assert _typed(accuracy, 0, 1) and not (isinstance(accuracy, float) and math.isnan(accuracy))
    assert _typed(summary["num_classes"], 1, 1_000_000) and _typed(summary["input_size"], 1, 8192)
    assert all(isinstance(p, numbers.Problem) and p.rule and p.detail for p in summary["problems"])
    meta, body, problem = model_cards.read_card(card)
    assert isinstance(meta, dict) and isinstance(body, str) and len(body) <= model_cards.BODY_MAX
    assert problem is None or problem.rule.startswith("card.")


def _splits_as_url(text: str) -> bool:
    try:
        urlsplit(text).port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        return False
    return True


URLISH = st.builds(
    str.__add__, st.sampled_from(["http://", "https://", "HTTP://", "ftp://", ""]), st.text(alphabet=":/?#[]@.-a9é \n")
)


@settings(max_examples=2000, deadline=None, suppress_health_check=QUIET)
@given(st.one_of(URLISH, st.text()))
def test_the_fast_paths_of_url_and_text_checks_agree_with_their_definitions(text):
    """``is_url`` and ``clean_text`` skip the work for plain URLs and ASCII text: never with another answer."""
    assert numbers.is_url(text) == _splits_as_url(text)
    assert numbers.clean_text(text) == text.encode("utf-8", "replace").decode("utf-8")


@FAST
@given(hostile)
def test_number_rules_never_raise(value):
    for field_name in numbers.RANGES:
        got, problem = numbers.whole_number(field_name, value)
        low, high = numbers.RANGES[field_name]
        assert (got is None) or (type(got) is int and low <= got <= high and problem is None)
        assert got is not None or value is None or problem is not None
    got, problem = numbers.accuracy(value)
    assert got is None or (type(got) is float and 0 <= got <= 1)
    assert got is not None or value is None or problem is not None


@FAST
@given(markdown)
def test_securitynet_table_parser_accounts_for_every_table_line(text):
    rows = securitynet_parse.parse_tables(text)
    assert len(rows) == text.count("\n| ") - 1  # every data line (header and separator aside) is one row
    assert len({r.row_key for r in rows}) == len(rows)
    for r in rows:
        assert _typed(r.values["num_classes"], 1, 1_000_000) and _typed(r.values["test_accuracy"], 0, 1)


# --- the whole build --------------------------------------------------------------------------------------------------


def _write(settings_, source: str, records: list[dict]) -> None:
    if records:
        crawl_id = lake.new_crawl_id()
        lake.write_raw(settings_, source, crawl_id, 1, records)
        lake.finish_crawl(settings_, source, crawl_id, {"records": len(records), "steps": 1})


def _hub_records(models: list[dict], card_texts: list) -> list[dict]:
    page = f"{ENDPOINT}/api/models?limit=1000"
    records = [{"native_id": str(m["id"]), "request_url": page, "payload": m} for m in models]
    for m, text in zip(models, card_texts, strict=False):  # two lists of their own lengths
        if text is not None:
            sha = m["sha"] if isinstance(m.get("sha"), str) else "0"
            url = f"{ENDPOINT}/{m['id']}/resolve/{sha}/README.md"
            records.append({"native_id": str(m["id"]), "request_url": url, "payload": text})
    return records


def _source_records(values: list[dict], native: str) -> list[dict]:
    return [
        {"native_id": str(v.get(native)) if isinstance(v, dict) else f"n{i}", "request_url": "test:", "payload": v}
        for i, v in enumerate(values)
    ]


BASE_SETTINGS = dataclasses.replace(config.load(), home=Path(tempfile.gettempdir()))


@BUILD
@given(
    st.lists(listing, max_size=6),
    st.lists(st.none() | cards, max_size=6),
    st.lists(field(kaggle_record), max_size=3),
    st.lists(field(timm_record), max_size=3),
    st.lists(field(local_record), max_size=3),
    st.lists(securitynet_payload, max_size=2),
)
def test_catalog_build_never_fails_and_accounts_for_every_record(models, card_texts, kaggles, timms, locals_, tables):
    with tempfile.TemporaryDirectory(prefix="sn-lake-property-") as home:
        s = dataclasses.replace(BASE_SETTINGS, home=Path(home))
        _write(s, huggingface.SOURCE, _hub_records(models, card_texts))
        _write(s, kaggle.SOURCE, _source_records(kaggles, "model_slug"))
        _write(s, timm_registry.SOURCE, _source_records(timms, "name"))
        _write(s, local.SOURCE, _source_records(locals_, "name"))
        _write(
            s,
            securitynet.SOURCE,
            [{"native_id": securitynet.NATIVE_ID, "request_url": "test:", "payload": t} for t in tables],
        )
        con = warehouse.connect(s)
        try:
            catalog.build_models(s, con)
            _assert_accounted(s, con)
        finally:
            con.close()


def _assert_accounted(s, con) -> None:
    for source in (huggingface.SOURCE, kaggle.SOURCE, timm_registry.SOURCE, local.SOURCE):
        raw = lake.read_raw(s, source)
        if source == huggingface.SOURCE:
            raw = raw.filter(~pl.col("request_url").str.contains("/resolve/", literal=True))
        records = set(raw["native_id"])
        in_catalog = {
            r[0] for r in con.execute("SELECT model_id FROM catalog.models WHERE source = ?", [source]).fetchall()
        }
        refused = {
            r[0]
            for r in con.execute(
                "SELECT row_key FROM catalog.quarantine WHERE rule = 'record.unreadable' AND starts_with(row_key, ?)",
                [f"{source}:"],
            ).fetchall()
        }
        assert not in_catalog & refused, source
        assert {k.split(":", 1)[1] for k in in_catalog | refused} == records, source
    bad = con.execute(
        "SELECT model_id FROM catalog.models WHERE NOT (coalesce(reported_accuracy BETWEEN 0 AND 1, true) "
        "AND coalesce(num_classes BETWEEN 1 AND 1000000, true) AND coalesce(input_size BETWEEN 1 AND 8192, true) "
        "AND coalesce(downloads >= 0, true) AND coalesce(likes >= 0, true))"
    ).fetchall()
    assert bad == []
    labels = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE in_catalog) FROM catalog.securitynet_labels"
    ).fetchone()
    catalogued = con.execute("SELECT count(*) FROM catalog.models WHERE source = 'securitynet'").fetchone()[0]
    excluded = con.execute(
        "SELECT count(DISTINCT row_key) FROM catalog.quarantine WHERE rule LIKE 'securitynet.excluded.%'"
    ).fetchone()[0]
    assert labels[1] == catalogued and labels[0] == catalogued + excluded  # every table row: catalogued or quarantined


# --- the folder-shaped sources and the paper APIs -------------------------------------------------------------------

robustbench_record = st.fixed_dictionaries(
    {},
    optional={
        "name": field(texts),
        "link": field(texts),
        "eps": field(st.one_of(numbers_, st.sampled_from(["8/255", "1/0", "1" + "0" * 400 + ".00", "1e999", "0.031"]))),
        "clean_acc": field(numbers_),
        "autoattack_acc": field(st.one_of(numbers_, st.sampled_from(["97.5%", "nan"]))),
        "number_forward_passes": field(numbers_),
        "additional_data": field(st.booleans()),
        "unreliable": hostile,
    },
)
robustbench_text = st.one_of(
    robustbench_record.map(lambda r: json.dumps(r, ensure_ascii=False)), texts, st.just("[" * 100_000)
)


@FAST
@given(robustbench_text, st.sampled_from(["cifar10/Linf/m.json", "cifar10/L2/m.json", "imagenet/corruptions/m.json"]))
def test_robustbench_parser_never_raises_and_every_value_is_in_range(text, path):
    entry = robustbench_parse.read_entry({"path": path, "status": 200, "text": text, "sha256": "0"})
    v = entry.values
    assert entry.excluded is not None or all(
        _typed(v[k], 0, 1) for k in ("clean_accuracy", "robust_accuracy", "reported_accuracy")
    )
    assert _typed(v["number_forward_passes"], 1, 2**31 - 1) and _typed(v["epsilon"], 0, 1e300)


timm_cell = st.one_of(texts, numbers_.map(str), st.sampled_from(["1e999", "inf", "-inf", "nan", "224", "+3"]))


@FAST
@given(st.lists(st.lists(timm_cell, min_size=6, max_size=6), max_size=5))
def test_timm_results_parser_never_raises_and_every_value_is_in_range(rows):
    header = "model,top1,top5,img_size,rank_diff,param_count"
    text = "\n".join([header, *(",".join(c.replace(",", " ").replace("\n", " ") for c in r) for r in rows)])
    table = timm_results_parse.read_table({"path": "results-imagenet.csv", "status": 200, "text": text})
    for row in table.rows:
        v = row.values
        assert _typed(v["top1"], 0, 1) and _typed(v["top5"], 0, 1) and _typed(v["img_size"], 1, 8192)
        assert _typed(v["rank_diff"], -(2**31), 2**31 - 1) and _typed(v["param_count"], 0, 1e300)


@BUILD
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["dblp", "openalex", "semantic_scholar", "paperswithcode", "arxiv"]),
            st.one_of(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "title": field(texts),
                        "year": field(numbers_),
                        "publication_year": field(numbers_),
                        "authors": hostile,
                        "authorships": hostile,
                        "venue": field(texts),
                    },
                ),
                hostile,
            ),
        ),
        max_size=6,
    )
)
def test_paper_resolution_never_fails_and_every_year_is_in_range(answers):
    frame = pl.DataFrame(
        [
            {
                "api": api,
                "paper_id": f"2010.{i:05d}",
                "record": json.dumps({"record": record}),
                "request_url": "test:",
                "fetched_at": lake.utcnow(),
            }
            for i, (api, record) in enumerate(answers)
        ],
        schema=papers_crawl.LATEST_SCHEMA,
    )
    issues: list[dict] = []
    candidates, papers = papers_resolve.build(frame, issues=issues)
    assert set(papers["paper_id"]) == set(frame["paper_id"])  # every paper: resolved, its bad values quarantined
    assert all(_typed(y, 1900, 2100) for y in [*candidates["year"], *papers["year"]])
    assert all(i["rule"] and i["detail"] and i["row_key"].startswith("papers:") for i in issues)
