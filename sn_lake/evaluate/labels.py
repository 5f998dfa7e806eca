"""Label alignment: a model's class names (``id2label``, timm's ``label_names``) against a dataset's ClassLabel names.

:func:`align` returns the permutation ``order`` with ``logits[:, order]`` in the dataset's class order (None when
the model's own index order is right), so a model whose ``id2label`` lists the same classes in another order is
still evaluated right. Names compare after folding case, separators (``_ - / space`` and other punctuation),
number words (``"zero"`` is ``"0"``), trivial plurals and a few common synonyms (``aeroplane``/``airplane``,
``automobile``/``car``). Names that say nothing but an index (the Trainer's ``LABEL_0`` ..., ``"0".."n-1"`` in
order, WordNet ids such as ImageNet's ``n01440764``) and a model without names mean "the index order", trusted
only when the class counts match. Anything else raises :class:`LabelMismatch`: never a silently wrong label
order. Torch-free.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sn_lake.evaluate.models_errors import ModelLoadError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_DIGITS = tuple(str(i) for i in range(10))
# Class names of the built-in datasets, in their label order, for splits that carry none themselves.
CANONICAL: dict[str, tuple[str, ...]] = {
    "digits": _DIGITS,
    "mnist": _DIGITS,
    "svhn": _DIGITS,  # torchvision's SVHN maps the digit 0 (label "10" in the .mat files) to 0
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
}
_SYNONYMS = {  # folded key -> the key it stands for
    "aeroplane": "airplane",
    "plane": "airplane",
    "car": "automobile",
    "auto": "automobile",
    "lorry": "truck",
    "tshirt": "tshirttop",
    "tee": "tshirttop",
    "top": "tshirttop",
    "pants": "trouser",
    "sweater": "pullover",
    "boot": "ankleboot",
    "kitty": "cat",
    "puppy": "dog",
    **{word: str(i) for i, word in enumerate(DIGIT_WORDS)},
    **{f"digit{i}": str(i) for i in range(10)},
}
_GENERIC = re.compile(r"(?:label|class)[_ \-]?(\d+)", re.IGNORECASE)
_SYNSET = re.compile(r"n\d{8}")


class LabelMismatch(ModelLoadError):
    """The model's classes cannot be matched to the dataset's."""


def fold(name: str) -> str:
    """``name`` compared loosely: NFKC, lower case, only letters and digits (``"T-shirt / top"`` -> ``"tshirttop"``)."""
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _singular(key: str) -> str:
    if len(key) > 3 and key.endswith("ies"):
        return key[:-3] + "y"
    if len(key) > 3 and key.endswith(("ches", "shes", "sses", "xes")):
        return key[:-2]
    if len(key) > 2 and key.endswith("s") and not key.endswith(("ss", "us", "is")):
        return key[:-1]
    return key


def keys(name: str) -> list[str]:
    """The folded forms ``name`` may be matched by, most specific first (whole name, singular, synonym, comma parts)."""
    forms: list[str] = []

    def add(text: str) -> None:
        key = fold(text)
        for k in (key, _singular(key)) if key else ():
            for form in (k, _SYNONYMS.get(k, k)):
                if form not in forms:
                    forms.append(form)

    add(name)
    for part in str(name).split(",") if "," in str(name) else ():  # ImageNet style: "tench, Tinca tinca"
        add(part)
    return forms


def is_generic(names: Sequence[str], numbers: bool = True) -> bool:
    """True for names that say nothing but an index: ``LABEL_0``..``LABEL_n`` in order, WordNet synset ids, and
    (``numbers``, for a model's names) ``"0".."n-1"`` in order, which for a dataset are real names (digits)."""
    text = [str(n).strip() for n in names]
    if text and all(_SYNSET.fullmatch(n) for n in text):
        return True
    if numbers and text == [str(i) for i in range(len(text))]:
        return True
    found = [_GENERIC.fullmatch(n) for n in text]
    return bool(text) and all(m is not None and int(m.group(1)) == i for i, m in enumerate(found))


def canonical_names(dataset: str | None) -> tuple[str, ...] | None:
    """The class names of a built-in dataset (``digits``, ``cifar10``, ...), in label order, or None."""
    return CANONICAL.get((dataset or "").lower())


def align(
    model_labels: Sequence[str] | None, dataset_labels: Sequence[str] | None, n_model: int, n_dataset: int
) -> list[int] | None:
    """``order`` with ``logits[:, order]`` in the dataset's class order, or None when the index order is right.

    ``n_model`` is the model's number of outputs, ``n_dataset`` the dataset's number of classes; raises
    :class:`LabelMismatch` with the reason when the two cannot be aligned.
    """
    if n_model != n_dataset:
        raise LabelMismatch(
            f"Expected the model's {n_model} classes to match the dataset's {n_dataset}, found different "
            "counts: evaluate it on the dataset it was trained on."
        )
    if model_labels is not None and len(model_labels) != n_model:
        raise LabelMismatch(
            f"Expected one class name per output, found {len(model_labels)} names for {n_model} outputs "
            "(different counts): fix the model's id2label."
        )
    if dataset_labels is not None and len(dataset_labels) != n_dataset:
        raise LabelMismatch(
            f"Expected one dataset class name per class, found {len(dataset_labels)} names for "
            f"{n_dataset} classes (different counts): fix the dataset's ClassLabel names."
        )
    if not model_labels or is_generic(model_labels):
        return None  # nothing to compare: the index order is all there is, and the counts agree
    if not dataset_labels:
        raise LabelMismatch(
            f"Expected the dataset's class names to check the model's labels {list(model_labels)[:4]} "
            "against, found none: its labels cannot be aligned, so it is not evaluated with a guessed "
            "order; give the dataset ClassLabel names."
        )
    if is_generic(dataset_labels, numbers=False):
        return None
    index: dict[str, set[int]] = {}
    for i, name in enumerate(model_labels):
        for key in keys(name):
            index.setdefault(key, set()).add(i)
    order: list[int] = []
    missing: list[str] = []
    for name in dataset_labels:
        hit = next((next(iter(index[k])) for k in keys(name) if len(index.get(k, ())) == 1), None)
        if hit is None:
            missing.append(str(name))
        order.append(-1 if hit is None else hit)
    if missing:
        raise LabelMismatch(
            f"Expected the model's id2label {list(model_labels)[:6]} to name the dataset's classes, found "
            f"none for {missing[:5]}: its labels cannot be aligned, so it is not evaluated with a "
            "guessed order."
        )
    if len(set(order)) != len(order):
        twice = sorted({str(model_labels[i]) for i in order if order.count(i) > 1})
        raise LabelMismatch(
            f"Expected each model label to match one dataset class, found {twice[:5]} matching several: "
            "its labels cannot be aligned, so it is not evaluated with a guessed order."
        )
    return None if order == list(range(n_model)) else order
