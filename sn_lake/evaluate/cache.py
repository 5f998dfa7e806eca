"""One loaded model, one decoded dataset and one set of logits per split, shared by the families of a run.

Each evaluation family (:func:`sn_lake.evaluate.pipeline.run_family`) needs the same model, the same dataset
and many of the same forward passes: task accuracy's and membership inference's are the same passes over the
members and non-members, and stealing's answers and the adversarial clean pass are rows of them. Dagster's
in-process executor (the embedded profile's ``sn-lake evaluate`` and ``sn-lake run``) runs the five family steps
of a partition in one process, so a cache in the library lets them share all three. Entries:

* a model, keyed by (model id, revision, device): the revision is the one the id pins (``@rev``), or for a
  ``local:`` model a fingerprint of its folder's files (names, sizes, modification times), so rebuilding the
  zoo is a new revision; an id without either (a Hub id at its default branch, a Kaggle handle) is the
  revision this process resolved first. The loading settings (``$SN_LAKE_HOME``, the parameter budget) are
  part of the key.
* a dataset, keyed by (dataset id, ``$SN_LAKE_HOME``, the member and non-member row counts).
* the logits of one split of one dataset under one model (and its label order): rows are computed when
  first asked for and kept, as :func:`sn_lake.evaluate.training.logits_of` computes them (float64, CPU).

The cache is bounded by bytes (parameters and buffers, image tensors, logits): the least recently used entries
go first, a model's or a dataset's logits go with it, and an entry larger than the whole bound is not kept.
``max_bytes=0`` disables it (every call loads, decodes and runs again, as before the cache): see
:func:`disabled` and :func:`configure`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from sn_lake import lake
from sn_lake.config import Settings
from sn_lake.evaluate import data as data_mod
from sn_lake.evaluate import models, training
from sn_lake.evaluate.attacks.sampling import RowLogits

DEFAULT_MAX_BYTES = 4 * 1024**3


def _tensor_bytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def model_bytes(loaded: models.LoadedModel) -> int:
    module = loaded.classifier
    return _tensor_bytes(*module.parameters(), *module.buffers())


def dataset_bytes(splits: data_mod.DatasetSplits) -> int:
    return _tensor_bytes(splits.train.x, splits.train.y, splits.test.x, splits.test.y)


def revision_key(model_id: str, settings: Settings) -> str | None:
    """The revision part of a model's cache key (see the module docstring), without loading the model."""
    source, _, native = model_id.partition(":")
    if source == "local":
        folder = lake.zoo_root(settings) / native
        if not native or "/" in native or native.startswith(".") or not folder.is_dir():
            return None  # models.load refuses it with its own message
        digest = hashlib.sha256()
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "files:" + digest.hexdigest()[:16]
    _, at, revision = native.rpartition("@")
    return revision if at and source == "huggingface" and revision else None


@dataclass
class SplitLogits:
    """The logits of one split's rows under one model, each row computed once (when first asked for)."""

    model: torch.nn.Module
    split: data_mod.Split
    device: torch.device
    values: torch.Tensor | None = field(default=None, init=False)  # N x K float64, allocated at the first computation
    known: torch.Tensor = field(init=False)  # N bools: which rows of values are filled
    computed_rows: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.known = torch.zeros(len(self.split), dtype=torch.bool)

    def __call__(self, index: torch.Tensor) -> torch.Tensor:
        index = torch.as_tensor(index, dtype=torch.long)
        missing = torch.unique(index[~self.known[index]])
        if len(missing):
            out = training.logits_of(self.model, self.split.x[missing], self.device)
            if self.values is None:
                self.values = torch.empty((len(self.split), out.shape[1]), dtype=out.dtype)
            self.values[missing] = out
            self.known[missing] = True
            self.computed_rows += len(missing)
        if self.values is None:  # an empty index before any row was computed
            return torch.empty((0, 0), dtype=torch.float64)
        return self.values[index]

    @property
    def nbytes(self) -> int:
        return (0 if self.values is None else _tensor_bytes(self.values)) + _tensor_bytes(self.known)


class EvalCache:
    """A bounded, least-recently-used cache of models, datasets and split logits (see the module docstring)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[object, int]] = OrderedDict()
        self._lock = threading.RLock()
        self.hits: Counter = Counter()
        self.misses: Counter = Counter()

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(
                value.nbytes if isinstance(value, SplitLogits) else size for value, size in self._entries.values()
            )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits.clear()
            self.misses.clear()

    def keys(self) -> list[tuple]:
        with self._lock:
            return list(self._entries)

    def stats(self) -> dict:
        """Loads and hits per kind, rows of logits computed, and bytes held (what the cache saved, for benchmarks)."""
        with self._lock:
            tables = [value for value, _ in self._entries.values() if isinstance(value, SplitLogits)]
            return {
                "model_loads": self.misses["model"],
                "model_hits": self.hits["model"],
                "dataset_decodes": self.misses["dataset"],
                "dataset_hits": self.hits["dataset"],
                "logit_tables": len(tables),
                "logit_rows_computed": sum(t.computed_rows for t in tables),
                "cache_bytes": self.nbytes,
            }

    def _lookup(self, key: tuple):
        entry = self._entries.get(key)
        if entry is None:
            self.misses[key[0]] += 1
            return None
        self._entries.move_to_end(key)
        self.hits[key[0]] += 1
        return entry[0]

    def _store(self, key: tuple, value, size: int) -> None:
        if size > self.max_bytes:
            return
        self._entries[key] = (value, size)
        self._entries.move_to_end(key)
        self._evict(keep=key)

    def _evict(self, keep: tuple | None = None) -> None:
        while self.nbytes > self.max_bytes:
            victim = next((k for k in self._entries if k != keep), None)
            if victim is None:
                return
            self._drop(victim)

    def _drop(self, key: tuple) -> None:
        value, _ = self._entries.pop(key)
        if key[0] in ("model", "dataset"):  # their logits go with them
            owned = id(value.classifier) if key[0] == "model" else id(value)
            for other in [k for k in self._entries if k[0] == "logits" and owned in (k[1], k[2])]:
                self._entries.pop(other)

    def model(self, model_id: str, settings: Settings, device: torch.device) -> models.LoadedModel:
        """``models.load(model_id, settings, device)``, loaded once per (model id, revision, device)."""
        if not self.enabled:
            return models.load(model_id, settings, device)
        key = (
            "model",
            model_id,
            revision_key(model_id, settings),
            str(device),
            str(settings.home),
            getattr(settings, "max_parameters", None),
        )
        with self._lock:
            found = self._lookup(key)
            if found is None:
                found = models.load(model_id, settings, device)
                self._store(key, found, model_bytes(found))
            return found

    def dataset(self, dataset: str, settings: Settings) -> data_mod.DatasetSplits:
        """``data.load(dataset, settings)``, decoded once per (dataset, ``$SN_LAKE_HOME``, row counts)."""
        if not self.enabled:
            return data_mod.load(dataset, settings)
        key = (
            "dataset",
            dataset,
            str(settings.home),
            getattr(settings, "eval_members", None),
            getattr(settings, "eval_nonmembers", None),
        )
        with self._lock:
            found = self._lookup(key)
            if found is None:
                found = data_mod.load(dataset, settings)
                self._store(key, found, dataset_bytes(found))
            return found

    def logits(self, loaded: models.LoadedModel, splits: data_mod.DatasetSplits, split: str) -> RowLogits | None:
        """The model's logits of rows of ``splits.<split>`` (``train`` or ``test``), or None when the cache is off.

        Keyed by the model and dataset objects themselves and the model's current label order; only a model and
        a dataset that this cache holds get shared logits (a table keeps its model alive, so it must not outlive it).
        """
        if not self.enabled:
            return None
        rows = getattr(splits, split)
        order = getattr(loaded.classifier, "label_order", None)
        key = ("logits", id(loaded.classifier), id(splits), split, None if order is None else tuple(order.tolist()))
        with self._lock:
            held = [value for value, _ in self._entries.values()]
            if not any(v is loaded for v in held) or not any(v is splits for v in held):
                return None
            found = self._lookup(key)
            if found is None or found.model is not loaded.classifier or found.split is not rows:
                found = SplitLogits(loaded.classifier, rows, loaded.device)
                self._store(key, found, found.nbytes)
        return self._guarded(key, found)

    def _guarded(self, key: tuple, table: SplitLogits) -> RowLogits:
        def rows(index: torch.Tensor) -> torch.Tensor:
            with self._lock:
                out = table(index)
                if key in self._entries:
                    self._evict(keep=key)  # the table grew
            return out

        return rows


CACHE = EvalCache()


def configure(max_bytes: int) -> None:
    """Bound the process's cache to ``max_bytes`` (0 disables it), evicting what no longer fits."""
    with CACHE._lock:
        CACHE.max_bytes = max_bytes
        if max_bytes <= 0:
            CACHE.clear()
        else:
            CACHE._evict()


@contextmanager
def disabled() -> Iterator[None]:
    """The process's cache off (each family loads, decodes and runs its own passes), then as it was."""
    before = CACHE.max_bytes
    configure(0)
    try:
        yield
    finally:
        configure(before)
