"""Label alignment (torch-free): names folded, synonyms and plurals matched, generic names trusted only by count."""

import subprocess
import sys

import pytest

from sn_lake.evaluate import labels
from sn_lake.evaluate.models_errors import ModelLoadError

DIGITS = [str(i) for i in range(10)]


def test_a_permutation_is_found_and_undoes_the_model_order():
    model = ["3", "1", "zero", "two", "4", "5", "6", "7", "8", "nine"]
    order = labels.align(model, DIGITS, 10, 10)
    assert order == [2, 1, 3, 0, 4, 5, 6, 7, 8, 9]
    assert [labels.fold(model[i]) for i in order] == ["zero", "1", "two", "3", "4", "5", "6", "7", "8", "nine"]


@pytest.mark.parametrize(
    ("model", "dataset", "order"),
    [
        (["Dogs", "cats"], ["cat", "dog"], [1, 0]),  # case and trivial plurals
        (["Bean Rust", "angular-leaf-spot", "healthy"], ["angular_leaf_spot", "bean_rust", "healthy"], [1, 0, 2]),
        (["car", "aeroplane"], ["airplane", "automobile"], [1, 0]),  # common synonyms
        (["T-shirt / top", "trousers"], ["Trouser", "T-shirt/top"], [1, 0]),  # separators and punctuation
        (["puppies", "kitties", "boxes"], ["box", "kitty", "puppy"], [2, 1, 0]),  # -ies and -es plurals
        (["tench, Tinca tinca", "goldfish, Carassius auratus"], ["goldfish", "tench"], [1, 0]),  # ImageNet names
        (["ＡＢＣ", "def"], ["def", "abc"], [1, 0]),  # NFKC: full-width letters
    ],
)
def test_names_are_matched_loosely(model, dataset, order):
    assert labels.align(model, dataset, len(model), len(dataset)) == order


def test_the_same_order_and_generic_names_mean_the_index_order():
    assert labels.align(DIGITS, DIGITS, 10, 10) is None
    assert labels.align(None, DIGITS, 10, 10) is None
    assert labels.align([f"LABEL_{i}" for i in range(3)], ["a", "b", "c"], 3, 3) is None  # the Trainer's default
    assert labels.align(DIGITS, labels.CANONICAL["cifar10"], 10, 10) is None  # numbers in order: the index
    assert labels.align(["n01440764", "n01443537"], ["tench", "goldfish"], 2, 2) is None  # WordNet ids
    assert labels.align(["cat", "dog"], ["LABEL_0", "LABEL_1"], 2, 2) is None  # a dataset without real names
    assert not labels.is_generic(["LABEL_1", "LABEL_0"])  # out of order: not the default


@pytest.mark.parametrize(
    ("model", "dataset", "n_model", "n_dataset", "match"),
    [
        (None, None, 1000, 10, "different counts"),
        ([f"LABEL_{i}" for i in range(5)], DIGITS, 5, 10, "different counts"),
        (["a", "b"], ["a", "b"], 3, 3, "different counts"),
        (["cat", "dog"], ["angular_leaf_spot", "bean_rust"], 2, 2, "cannot be aligned"),
        (["cat", "cats"], ["cat", "dog"], 2, 2, "cannot be aligned"),  # ambiguous: both fold to "cat"
        (["1", "0"], None, 2, 2, "found none: its labels cannot be aligned"),  # named model, nameless dataset
    ],
)
def test_what_cannot_be_aligned_is_refused_with_the_reason(model, dataset, n_model, n_dataset, match):
    with pytest.raises(labels.LabelMismatch, match=match) as error:
        labels.align(model, dataset, n_model, n_dataset)
    assert isinstance(error.value, ModelLoadError)


def test_built_in_datasets_have_their_class_names():
    assert labels.canonical_names("digits") == tuple(DIGITS) and labels.canonical_names("CIFAR10")[0] == "airplane"
    assert labels.canonical_names("someone/my-xray-set") is None


def test_labels_module_does_not_import_torch():
    code = "import sys, sn_lake.evaluate.labels; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
