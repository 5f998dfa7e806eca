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
from sn_lake.annotate.datasets import (
    CATEGORIES,
    canonical_dataset,
    declared_dataset,
    specific_dataset,
)
from sn_lake.annotate.model_cards import body_facts, card_summary
from sn_lake.catalog import timm_results
from sn_lake.evaluate import hub_datasets
from sn_lake.http_client import RetryPolicy
from sn_lake.sources.huggingface import crawl as hf

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
"""  # noqa: E501 (the card's lines as the Trainer writes them)


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
    for dataset in (
        "beans",
        "food101",
        "cats_vs_dogs",
        "eurosat",
        "gtsrb",
        "stl10",
        "oxford-iiit-pet",
        "flowers102",
        "caltech101",
        "chest-xray-pneumonia",
    ):
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
    linked = (
        "This model is a fine-tuned version of [a/b](https://huggingface.co/a/b) on the "
        "[eurosat](https://huggingface.co/datasets/blanchon/EuroSAT_RGB) dataset."
    )
    assert body_facts(linked)["datasets"] == ["[eurosat](https://huggingface.co/datasets/blanchon/EuroSAT_RGB)"]
    assert card_summary({"id": "x/y"}, linked)["dataset"] == "eurosat"
    plural = "This model is a fine-tuned version of [a/b](https://huggingface.co/a/b) on the gtsrb and stl10 datasets."
    assert body_facts(plural)["datasets"] == ["gtsrb", "stl10"]
    assert (
        card_summary({"id": "x/y"}, "This model is a fine-tuned version of [a/b](u) on an unknown dataset.")["dataset"]
        is None
    )


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
        rows = {
            name: (dataset, note)
            for name, dataset, note in con.execute(
                "SELECT name, dataset, dataset_note FROM catalog.models WHERE source = 'huggingface'"
            ).fetchall()
        }
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
        print(
            f"\nimage classifiers with a dataset: {with_dataset}/{len(rows)} = {with_dataset / len(rows):.1%} "
            f"({forms['imagefolder']} imagefolder, {forms['undeclared']} undeclared)"
        )


def bare_card(sentence_end: str) -> str:
    """A card with no front matter whose facts are only in the Trainer's sentence (as a bare upload has them)."""
    return (
        "<!-- This model card has been generated automatically according to the information the Trainer had "
        "access to. -->\n\n# leaf-classifier\n\nThis model is a fine-tuned version of "
        "[google/vit-base-patch16-224-in21k](https://huggingface.co/google/vit-base-patch16-224-in21k) on "
        f"{sentence_end}\nIt achieves the following results on the evaluation set:\n- Loss: 0.2011\n"
        "- Accuracy: 0.9412\n"
    )


@pytest.mark.parametrize(
    "words",
    [
        "following",
        "same",
        "training",
        "private",
        "test",
        "my_dataset",
        "data/train",
        "./data",
        "/content/drive/MyDrive/leaves",
        "data/train/leaves",
        "Stanford Cars",
        "processed cifar10",
        "an unknown",
    ],
)
def test_generic_words_paths_and_unknown_phrases_in_prose_declare_nothing(words):
    summary = card_summary({"id": "someone/leaf-classifier"}, bare_card(f"the {words} dataset."))
    assert (summary["dataset"], summary["dataset_note"]) == (None, None), words
    assert body_facts(bare_card(f"the {words} dataset."))["datasets"] == []


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("someone/leaves", "someone/leaves"),  # a Hub id with one slash stays an id
        ("data/train", None),
        ("someone/test", None),
        ("a/b/c", None),
        ("./leaves", None),
        ("/data/leaves", None),
        ("C:\\data\\leaves", None),
        ("following", None),
        ("my_dataset", None),
        ("snacks", "snacks"),  # a legacy id in a structured field is kept...
    ],
)
def test_paths_and_generic_words_are_not_ids(declared, expected):
    assert declared_dataset(declared) == (expected, None)


def test_a_single_unknown_word_in_prose_is_a_word_not_an_id():
    assert declared_dataset("snacks", prose=True) == (None, None)  # ... but a word of a sentence is not
    assert card_summary({"id": "x/y"}, bare_card("the snacks dataset."))["dataset"] is None


@pytest.mark.parametrize(
    ("words", "expected_reason", "wrong_reason"),
    [
        ("imagefolder", "image folder", "empty value"),
        ("None", "empty value", "image folder"),
        ("custom", "the author's own data", "image folder"),
        ("csv", "local files", "image folder"),
    ],
)
def test_placeholders_in_prose_are_null_with_a_note_that_says_what_was_found(words, expected_reason, wrong_reason):
    summary = card_summary({"id": "someone/leaf-classifier"}, bare_card(f"the {words} dataset."))
    assert summary["dataset"] is None
    assert f"{words!r}" in summary["dataset_note"] and expected_reason in summary["dataset_note"]
    assert wrong_reason not in summary["dataset_note"]


def test_a_placeholder_in_yaml_says_what_it_is():
    _, note = declared_dataset("None")
    assert note is not None and "'None'" in note and "names no dataset" in note and "folder" not in note


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("Oxford-IIIT Pet", "oxford-iiit-pet"),
        ("oxford iiit pet", "oxford-iiit-pet"),
        ("Stanford Dogs", "stanford-dogs"),
        ("CUB-200-2011", "cub-200-2011"),
        ("Caltech-UCSD Birds-200-2011", "cub-200-2011"),
        ("Fashion MNIST", "fashion-mnist"),
        ("cats and dogs", "cats_vs_dogs"),
    ],
)
def test_multi_word_names_in_prose_map_to_our_alias(words, expected):
    assert card_summary({"id": "someone/m"}, bare_card(f"the {words} dataset."))["dataset"] == expected
    assert CATEGORIES[expected]


@pytest.mark.parametrize(
    ("sentence_end", "expected"),
    [
        ("the [Beans dataset](https://huggingface.co/datasets/AI-Lab-Makerere/beans).", "beans"),
        (
            "the [leaf photos dataset](https://huggingface.co/datasets/Leafworks/Cassava-Leaves).",
            "leafworks/cassava-leaves",
        ),
        ("https://huggingface.co/datasets/Leafworks/Cassava-Leaves.", "leafworks/cassava-leaves"),
        ("the https://huggingface.co/datasets/Leafworks/Cassava-Leaves dataset.", "leafworks/cassava-leaves"),
        ("the `AI-Lab-Makerere/beans` dataset.", "beans"),
        ("the 'food101' dataset.", "food101"),
        ('the "Stanford Dogs" dataset.', "stanford-dogs"),
        ("the \u201cOxford-IIIT Pet\u201d dataset.", "oxford-iiit-pet"),
        ("the cifar10 (plain_text) dataset.", "cifar10"),
        ("the uoft-cs/cifar100 (cifar100) dataset.", "cifar100"),
        ("the gtsrb, the stl10 and the beans datasets.", "gtsrb"),  # the Trainer's own plural form
        ("the following dataset. Later it was fine-tuned on the eurosat dataset.", "eurosat"),
    ],
)
def test_other_prose_forms(sentence_end, expected):
    assert card_summary({"id": "someone/m"}, bare_card(sentence_end))["dataset"] == expected


def test_a_link_to_a_page_outside_the_hub_gives_no_hub_id():
    linked = bare_card("the [leaves](https://www.kaggle.com/datasets/someone/leaves) dataset.")
    assert card_summary({"id": "someone/m"}, linked)["dataset"] is None
    assert declared_dataset("https://www.kaggle.com/datasets/someone/leaves") == (None, None)


def test_the_trainers_plural_sentence_lists_every_dataset():
    assert body_facts(bare_card("the gtsrb, the stl10 and the beans datasets."))["datasets"] == [
        "gtsrb",
        "stl10",
        "beans",
    ]


def test_the_medmnist_umbrella_repo_gives_way_to_the_set_the_model_index_names():
    card = TRAINER_CARD.replace("- {yaml_dataset}", "- albertvillanova/medmnist-v2").format(
        yaml_dataset="", index_dataset="bloodmnist", prose_dataset="medmnist-v2"
    )
    listing = {"id": "someone/blood-cells", "tags": ["image-classification", "dataset:albertvillanova/medmnist-v2"]}
    summary = card_summary(listing, card)
    assert summary["dataset"] == "bloodmnist"
    assert summary["accuracy"] == pytest.approx(0.9624)
    found = hub_datasets.resolve(summary["dataset"])  # the evaluation reads the set as a config of the umbrella repo
    assert found is not None and found[1].repo == "albertvillanova/medmnist-v2" and found[1].config == "bloodmnist"
    # a card naming only the umbrella keeps it: no set is guessed
    alone = TRAINER_CARD.format(
        yaml_dataset="albertvillanova/medmnist-v2", index_dataset="medmnist-v2", prose_dataset="medmnist-v2"
    )
    assert card_summary({"id": "someone/m"}, alone)["dataset"] == "albertvillanova/medmnist-v2"
    # an ordinary Hub id first still wins over a later alias
    assert specific_dataset(["someone/leaves", "beans"]) == "someone/leaves"


def test_timms_shifted_imagenet_test_sets_are_catalog_datasets():
    assert set(timm_results.SHIFTED.values()) <= set(CATEGORIES)
    for written, expected in [
        ("ImageNet-R", "imagenet-r"),
        ("axiong/imagenet-r", "imagenet-r"),
        ("ImageNet-A", "imagenet-a"),
        ("imagenet_sketch", "imagenet-sketch"),
        ("songweig/imagenet_sketch", "imagenet-sketch"),
        ("ImageNetV2", "imagenetv2-matched-frequency"),
        ("imagenetv2-matched-frequency", "imagenetv2-matched-frequency"),
        ("ImageNet-ReaL", "imagenet-real"),
    ]:
        assert canonical_dataset(written) == expected, written


def test_the_model_index_config_names_the_set_of_an_umbrella_repo():
    """The Trainer writes the set of a multi-set repo as the model-index dataset's ``config``."""
    model_index = [
        {
            "name": "blood-cells",
            "results": [
                {
                    "task": {"type": "image-classification"},
                    "dataset": {"name": "medmnist-v2", "type": "albertvillanova/medmnist-v2", "config": "bloodmnist"},
                    "metrics": [{"type": "accuracy", "value": 0.95}],
                }
            ],
        }
    ]
    listing = {"id": "someone/blood-cells", "cardData": {"datasets": ["albertvillanova/medmnist-v2"]}}
    assert card_summary({**listing, "model-index": model_index})["dataset"] == "bloodmnist"
    # a config of an ordinary repo (cifar10's plain_text) is no dataset id
    plain = [{"results": [{"dataset": {"type": "uoft-cs/cifar10", "config": "plain_text"}}]}]
    assert card_summary({"id": "someone/c", "model-index": plain})["dataset"] == "cifar10"
