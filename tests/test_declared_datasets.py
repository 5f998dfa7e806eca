"""Declared datasets are kept: aliases where we know the set, the Hub id otherwise, NULL for placeholders.

The cards below are written in the formats real cards come in: the transformers Trainer's generated card
(YAML with ``datasets`` and a ``model-index``, and the sentence "fine-tuned version of [base](...) on the X
dataset"), TRL-style cards whose sentence links the dataset, and the hand-written cards of huggingface_hub's
own test fixtures (a scalar ``datasets:``, a blank line before the front matter).
"""

from collections import Counter

import pytest
from fake_hub import FakeHub, synthetic_hub

from sn_lake import catalog, config, warehouse
from sn_lake.annotate.datasets import CATEGORIES, declared_dataset
from sn_lake.annotate.model_cards import body_facts, card_summary
from sn_lake.sources import huggingface as hf
from sn_lake.sources.http import RetryPolicy

TRAINER_CARD = """---
library_name: transformers
license: apache-2.0
base_model: google/vit-base-patch16-224-in21k
tags:
- generated_from_trainer
datasets:
- {yaml_dataset}
metrics:
- accuracy
model-index:
- name: leaf-classifier
  results:
  - task:
      name: Image Classification
      type: image-classification
    dataset:
      name: {index_dataset}
      type: {index_dataset}
      config: default
      split: validation
      args: default
    metrics:
    - name: Accuracy
      type: accuracy
      value: 0.9624
---

<!-- This model card has been generated automatically according to the information the Trainer had access to. -->

# leaf-classifier

This model is a fine-tuned version of [google/vit-base-patch16-224-in21k](https://huggingface.co/google/vit-base-patch16-224-in21k) on the {prose_dataset} dataset.
It achieves the following results on the evaluation set:
- Loss: 0.1432
- Accuracy: 0.9624

## Training procedure
"""


def trainer_card(yaml_dataset="imagefolder", index_dataset="imagefolder", prose_dataset="imagefolder") -> str:
    return TRAINER_CARD.format(yaml_dataset=yaml_dataset, index_dataset=index_dataset, prose_dataset=prose_dataset)


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("beans", "beans"),
        ("AI-Lab-Makerere/beans", "beans"),
        ("food101", "food101"),
        ("ethz/food101", "food101"),
        ("cats_vs_dogs", "cats_vs_dogs"),
        ("microsoft/cats_vs_dogs", "cats_vs_dogs"),
        ("EuroSAT", "eurosat"),
        ("blanchon/EuroSAT_RGB", "eurosat"),
        ("gtsrb", "gtsrb"),
        ("stl10", "stl10"),
        ("timm/oxford-iiit-pet", "oxford-iiit-pet"),
        ("nelorth/oxford-flowers", "flowers102"),
        ("caltech101", "caltech101"),
        ("keremberke/chest-xray-classification", "chest-xray-pneumonia"),
        ("fashion_mnist", "fashion-mnist"),
        ("PathMNIST", "pathmnist"),
        ("Someone/My-Xray-Set", "someone/my-xray-set"),
        ("[beans](https://huggingface.co/datasets/AI-Lab-Makerere/beans)", "beans"),
        ("https://huggingface.co/datasets/Someone/leaves", "someone/leaves"),
        ("imagefolder", None),
        ("a sentence, not an id", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_declared_dataset(declared, expected):
    assert declared_dataset(declared)[0] == expected


def test_every_alias_has_a_category():
    for dataset in ("beans", "food101", "cats_vs_dogs", "eurosat", "gtsrb", "stl10", "oxford-iiit-pet", "flowers102",
                    "caltech101", "chest-xray-pneumonia"):
        assert dataset in CATEGORIES


def test_trainer_card_on_an_imagefolder_keeps_null_with_the_reason():
    summary = card_summary({"id": "someone/leaf-classifier", "library_name": "transformers"}, trainer_card())
    assert summary["dataset"] is None
    assert "imagefolder" in summary["dataset_note"]


@pytest.mark.parametrize(
    ("where", "card", "expected"),
    [
        ("yaml", trainer_card(yaml_dataset="AI-Lab-Makerere/beans"), "beans"),
        ("model-index", trainer_card(index_dataset="food101"), "food101"),
        ("prose", trainer_card(prose_dataset="cats_vs_dogs"), "cats_vs_dogs"),
        ("prose, unknown set", trainer_card(prose_dataset="someone/skin-lesions"), "someone/skin-lesions"),
    ],
)
def test_trainer_card_declares_its_dataset(where, card, expected):
    assert card_summary({"id": "someone/leaf-classifier"}, card)["dataset"] == expected, where


def test_a_dataset_tag_is_read_first():
    listing = {"id": "someone/m", "tags": ["image-classification", "dataset:Someone/Leaves-2024"]}
    assert card_summary(listing, trainer_card(yaml_dataset="beans"))["dataset"] == "someone/leaves-2024"


def test_linked_and_plural_prose_forms():
    linked = "This model is a fine-tuned version of [a/b](https://huggingface.co/a/b) on the " \
             "[eurosat](https://huggingface.co/datasets/blanchon/EuroSAT_RGB) dataset."
    assert body_facts(linked)["datasets"] == ["[eurosat](https://huggingface.co/datasets/blanchon/EuroSAT_RGB)"]
    assert card_summary({"id": "x/y"}, linked)["dataset"] == "eurosat"
    plural = "This model is a fine-tuned version of [a/b](https://huggingface.co/a/b) on the gtsrb and stl10 datasets."
    assert body_facts(plural)["datasets"] == ["gtsrb", "stl10"]
    assert card_summary({"id": "x/y"}, "This model is a fine-tuned version of [a/b](u) on an unknown dataset.")["dataset"] is None


def test_hand_written_cards_in_huggingface_hubs_fixture_style():
    scalar = "\n---\nlanguage: en\ndatasets: Food101\nlicense: mit\n---\n\n# A food model\n"
    assert card_summary({"id": "x/y"}, scalar)["dataset"] == "food101"
    listed = "---\nlicense: mit\ndatasets:\n- my-own/set\n- beans\n---\n\nHello\n"
    assert card_summary({"id": "x/y"}, listed)["dataset"] == "my-own/set"


def test_a_crawled_hub_keeps_every_declared_dataset_model_by_model(sn_home, monkeypatch, capsys):
    """A Hub of today's mix (``HUB_MIX``), crawled through the loopback fake Hub and built into the catalog: every image
    classifier whose YAML, tags or prose declares a dataset has it; ``imagefolder`` ones are NULL with the reason."""
    models, truth = synthetic_hub(1200, seed=13, image_share=0.5, bare_share=0.5)
    forms = Counter(form for _, form in truth.values())
    assert set(forms) == {"yaml", "prose", "prose-linked", "prose-plural", "imagefolder", "undeclared"}, forms
    with FakeHub(models, max_page_size=200) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        settings = config.load()
        summary = hf.crawl(settings, hf.CrawlConfig(retry=RetryPolicy(attempts=3, backoff_base=0.01, seed=0)))
    assert summary["cards_pending"] == 0
    con = warehouse.connect(settings)
    try:
        catalog.build_models(settings, con)
        rows = {name: (dataset, note) for name, dataset, note in con.execute(
            "SELECT name, dataset, dataset_note FROM catalog.models WHERE source = 'huggingface'").fetchall()}
    finally:
        con.close()
    assert set(rows) == set(truth)

    wrong = []
    for repo_id, (expected, form) in sorted(truth.items()):
        dataset, note = rows[repo_id]
        if form == "imagefolder":
            ok = dataset is None and note is not None and "imagefolder" in note
        elif form == "undeclared":
            ok = dataset is None and note is None
        else:
            ok = dataset == expected and note is None
        if not ok:
            wrong.append((repo_id, form, expected, dataset, note))
    assert wrong == [], f"{len(wrong)} of {len(truth)} image classifiers wrong, e.g. {wrong[:5]}"

    with_dataset = sum(dataset is not None for dataset, _ in rows.values())
    declaring = sum(form not in ("imagefolder", "undeclared") for _, form in truth.values())
    assert with_dataset == declaring
    with capsys.disabled():
        print(f"\nimage classifiers with a dataset: {with_dataset}/{len(rows)} = {with_dataset / len(rows):.1%} "
              f"({forms['imagefolder']} imagefolder, {forms['undeclared']} undeclared)")
