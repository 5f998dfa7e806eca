"""Weight file formats, from a file's name or its first bytes: the one place that sniffs them.

``sn_lake.sources.weights`` names the format of every file a weights link lists; ``sn_lake.evaluate.models`` reads
the first bytes of a downloaded file to choose its loader. Both import this module, so loading a model imports no
crawler.
"""

from __future__ import annotations

import re
import struct

FORMATS = ("safetensors", "pytorch-state-dict", "pickle", "tensorflow", "other")
SNIFF_BYTES = 64  # enough for every signature below

ARCHIVES = (".tar.gz", ".tgz", ".zip", ".gz", ".tar", ".7z")
_BY_EXTENSION = {
    ".safetensors": "safetensors",
    ".pth": "pytorch-state-dict", ".pt": "pytorch-state-dict", ".pth.tar": "pytorch-state-dict",
    ".ckpt": "pytorch-state-dict", ".bin": "pytorch-state-dict", ".params": "other",
    ".pkl": "pickle", ".pickle": "pickle", ".npz": "other", ".npy": "other", ".onnx": "other",
    ".h5": "tensorflow", ".hdf5": "tensorflow", ".keras": "tensorflow", ".pb": "tensorflow", ".tflite": "tensorflow",
    ".index": "tensorflow", ".msgpack": "other",
}  # fmt: skip
_TF_SHARD = re.compile(r"\.data-\d{5}-of-\d{5}$")
# torch.save's legacy (non-zip) files start with a pickled magic number, 0x1950a86a20f9469cfc6c
_TORCH_LEGACY_MAGIC = bytes.fromhex("8a0a6cfc9c46f9206aa85019")


def split_archive(name: str) -> tuple[str, str | None]:
    lower = name.lower()
    for ext in ARCHIVES:
        if lower.endswith(ext):
            return name[: -len(ext)], ext.lstrip(".")
    return name, None


def format_from_name(name: str) -> str:
    """The weight format a file name says (``model.safetensors`` -> ``safetensors``, ``x.pth.zip`` ->
    ``pytorch-state-dict``)."""
    inner, _ = split_archive(name)
    lower = inner.lower()
    if _TF_SHARD.search(lower) or lower.endswith("saved_model") or lower.startswith("saved_model"):
        return "tensorflow"
    for ext in sorted(_BY_EXTENSION, key=len, reverse=True):
        if lower.endswith(ext):
            return _BY_EXTENSION[ext]
    return "other"


def is_weight_file(name: str) -> bool:
    """Whether a file name looks like model weights (by extension, inside an archive or not)."""
    inner, archive = split_archive(name)
    return (
        format_from_name(name) != "other"
        or inner.lower().endswith((".npz", ".onnx", ".params", ".msgpack"))
        or (archive is not None and bool(re.search(r"weight|checkpoint|model|ckpt", inner.lower())))
    )


def format_from_bytes(head: bytes, name: str = "") -> str | None:
    """The format the first bytes of a file show, None when they show none we know.

    safetensors: an 8-byte little-endian header length then ``{``; a zip (``PK``): torch.save's
    archive (or Keras 3's ``.keras``); a pickle (``\\x80``): torch.save's legacy format when it
    starts with torch's magic number, else a plain pickle; HDF5's signature: Keras/TensorFlow.
    """
    if len(head) >= 9 and head[8:9] == b"{":
        (length,) = struct.unpack("<Q", head[:8])
        if 1 < length < 100_000_000:
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "tensorflow" if name.lower().endswith(".keras") else "pytorch-state-dict"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "tensorflow"
    if head[:1] == b"\x80" and len(head) > 2:
        return "pytorch-state-dict" if _TORCH_LEGACY_MAGIC in head[:32] else "pickle"
    return None
