"""Kaggle model instances (``kaggle:<owner>/<model>/<framework>/<variation>``): the latest version downloaded with
kagglesdk into ``$SN_LAKE_HOME/kaggle_cache`` and unpacked safely (regular files, no paths outside, within the
byte budget), as a folder in timm or transformers format. A bare state dict gets a derived timm ``config.json``:
the first architecture its metadata names that fits its tensors.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import torch

from sn_lake.config import Settings
from sn_lake.evaluate.model_config import TIMM_NAME, timm_tag_known
from sn_lake.evaluate.model_files import (
    RAW_CHECKPOINT_SUFFIXES,
    load_torch_checkpoint,
    net_shapes,
    safetensors_header,
    weights_kind,
    zip_format,
)
from sn_lake.evaluate.models_errors import ModelLoadError
from sn_lake.evaluate.timm_loader import timm_head

KAGGLE_FRAMEWORKS = {"pyTorch", "transformers", "other"}  # instances that can hold PyTorch weights
_KAGGLE_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_TIMM_USAGE = re.compile(r"timm\.create_model\(\s*['\"]([A-Za-z0-9_.]+)['\"]")


def kaggle_cache_dir(settings: Settings) -> Path:
    return settings.home / "kaggle_cache"


def _kaggle_handle(native: str) -> tuple[str, str, str, str]:
    parts = native.split("/")
    if len(parts) != 4 or not all(_KAGGLE_SLUG.fullmatch(p) and ".." not in p for p in parts):
        raise ModelLoadError(
            f"Expected a Kaggle instance as owner/model/framework/variation, found {native!r}: use the handle Kaggle"
            " shows."
        )
    return parts[0], parts[1], parts[2], parts[3]


def _extract(archive: Path, dest: Path, max_bytes: int) -> None:
    """Unpack a tar(.gz) or zip download into ``dest``.

    Regular files only, no absolute or ``..`` paths, at most ``max_bytes`` in all.
    """
    with archive.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(b"PK\x03\x04"):
        try:
            kind = zip_format(archive)  # the download itself is one torch.save or Keras file, not a folder
        except ModelLoadError:
            kind = None
        if kind is not None:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(archive, dest / ("model.bin" if kind == "pytorch-state-dict" else "model.keras"))
            return
        with zipfile.ZipFile(archive) as z:
            entries = [(i.filename, i.file_size, i.is_dir(), lambda i=i: z.open(i)) for i in z.infolist()]
            _write_entries(entries, dest, max_bytes, archive)
        return
    try:
        tar = tarfile.open(archive, mode="r:*")
    except tarfile.TarError:
        tar = None
    if tar is None:  # a single file, as downloaded
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, dest / "model.bin")
        return
    with tar:
        entries = []
        for member in tar:
            if not (member.isfile() or member.isdir()):
                raise ModelLoadError(
                    f"Expected only files and folders in the Kaggle archive {archive.name}, found a link or device"
                    f" {member.name!r}: refused."
                )
            entries.append((member.name, member.size, member.isdir(), lambda m=member: tar.extractfile(m)))
        _write_entries(entries, dest, max_bytes, archive)


def _write_entries(entries, dest: Path, max_bytes: int, archive: Path) -> None:
    total = 0
    root = dest.resolve()
    for name, size, is_dir, opener in entries:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not name.strip("/"):
            raise ModelLoadError(
                f"Expected relative paths inside the Kaggle archive {archive.name}, found {name!r}: refused."
            )
        target = (dest / rel).resolve()
        if root not in target.parents and target != root:
            raise ModelLoadError(
                f"Expected every entry of {archive.name} inside its folder, found {name!r} pointing outside: refused."
            )
        if is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        total += size
        if total > max_bytes:
            raise ModelLoadError(
                f"Expected at most {max_bytes:,} bytes in the Kaggle archive {archive.name}, found more: the model is"
                " over budget."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        with opener() as src, target.open("wb") as out:
            shutil.copyfileobj(src, out)


def _model_root(folder: Path) -> Path:
    """The folder holding the files: ``folder`` itself or the single folder an archive wrapped them in."""
    while True:
        children = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(children) == 1 and children[0].is_dir():
            folder = children[0]
        else:
            return folder


def download_kaggle_instance(settings: Settings, native: str) -> tuple[Path, str, dict]:
    """Download a Kaggle model instance's latest version with kagglesdk (cached under ``$SN_LAKE_HOME/kaggle_cache``).

    Returns the folder holding its files, the version number, and the instance's metadata.
    """
    from kagglesdk.models.types.model_api_service import ApiDownloadModelInstanceVersionRequest
    from kagglesdk.models.types.model_enums import ModelFramework

    from sn_lake import kaggle_client as kaggle

    owner, model, framework, variation = _kaggle_handle(native)
    if framework not in KAGGLE_FRAMEWORKS:
        raise ModelLoadError(
            f"Expected a Kaggle instance in PyTorch or transformers format, found the framework {framework!r}: only"
            " PyTorch weights are evaluated."
        )
    api = kaggle.KaggleModels(settings)
    try:
        instance = _find_instance(api, owner, model, framework, variation, native)
        version = int(instance.get("versionNumber") or 1)
        meta = {"owner": owner, "model_slug": model, "instance": instance, "model": api.get_model(owner, model) or {}}
        folder = kaggle_cache_dir(settings) / owner / model / framework / variation / str(version)
        if (folder / ".complete").is_file():
            return _model_root(folder / "files"), str(version), meta
        request = ApiDownloadModelInstanceVersionRequest()
        request.owner_slug, request.model_slug, request.instance_slug = owner, model, variation
        request.framework, request.version_number = ModelFramework[instance["framework"]], version
        download = api.client.models.model_api_client.download_model_instance_version
        budget = settings.max_parameters * 4 + 64 * 2**20  # float32 weights of the largest model evaluated, plus files
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = folder / "download"
        _fetch_archive(api, lambda: download(request), archive, budget, native, version)
        _unpack(archive, folder / "files", budget, native)
        (folder / ".complete").write_text(json.dumps({"version": version}))
        return _model_root(folder / "files"), str(version), meta
    except kaggle.KaggleError as exc:
        raise ModelLoadError(f"Expected Kaggle to describe {native}, found an error: {exc}") from exc
    finally:
        api.close()


def _find_instance(api, owner: str, model: str, framework: str, variation: str, native: str) -> dict:
    """The instance of ``owner/model`` with this variation slug and framework, as Kaggle lists it."""
    from sn_lake import kaggle_client as kaggle

    instances = api.list_instances(owner, model)
    instance = next(
        (
            i
            for i in instances or []
            if i.get("slug") == variation and kaggle.framework_handle(i.get("framework")) == framework
        ),
        None,
    )
    if instance is None:
        raise ModelLoadError(
            f"Expected the Kaggle instance {native} among {owner}/{model}'s instances, found it missing: check the"
            " handle."
        )
    return instance


def _fetch_archive(api, send, archive: Path, budget: int, native: str, version: int) -> None:
    """Stream the download ``send()`` answers into ``archive``, at most ``budget`` bytes, retried as the Kaggle
    client's policy says; every failure is a ModelLoadError."""
    from sn_lake import http_client as http
    from sn_lake import kaggle_client as kaggle

    def fetch() -> None:
        response = send()
        written = 0
        with archive.open("wb") as out:
            for chunk in response.iter_content(2**20):
                written += len(chunk)
                if written > budget:
                    raise ModelLoadError(
                        f"Expected at most {budget:,} bytes from Kaggle for {native}, found more: the model is over"
                        " budget."
                    )
                out.write(chunk)

    try:
        http.call_with_retries(
            fetch,
            retryable=kaggle._is_retryable,
            wait_hint=kaggle._wait_hint,
            policy=api.policy,
            describe=f"download of Kaggle instance {native}",
        )
    except (http.HttpError, OSError) as exc:
        raise ModelLoadError(
            f"Expected Kaggle to send the files of {native} (version {version}), found an error ({str(exc)[:200]}):"
            " try again later."
        ) from exc
    except Exception as exc:  # noqa: BLE001 - requests' HTTPError for a 4xx, with the status in the message
        if isinstance(exc, ModelLoadError):
            raise
        raise ModelLoadError(
            f"Expected Kaggle to send the files of {native} (version {version}), found {str(exc)[:200]}: check"
            " KAGGLE_API_TOKEN and the handle."
        ) from exc


def _unpack(archive: Path, dest: Path, budget: int, native: str) -> None:
    """Extract the downloaded ``archive`` into ``dest`` (:func:`_extract`), then delete it."""
    try:
        _extract(archive, dest, budget)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelLoadError(
            f"Expected a whole archive of {native}'s files from Kaggle, found a damaged one ({str(exc)[:160]}): "
            "download it again."
        ) from exc
    archive.unlink()


def timm_name_candidates(meta: dict) -> list[str]:
    """timm architectures a Kaggle instance's metadata may name: a ``timm.create_model('...')`` in its usage or
    overview, then its variation slug and model slug (``resnet18-a1-in1k`` -> ``resnet18.a1_in1k``, ``resnet18``)."""
    import timm

    instance = meta.get("instance") or {}
    texts = (
        " ".join(str(instance.get(k) or "") for k in ("usage", "overview"))
        + " "
        + str((meta.get("model") or {}).get("description") or "")
    )
    names = _TIMM_USAGE.findall(texts)
    for slug in (instance.get("slug"), meta.get("model_slug")):
        words = [w for w in re.split(r"[-_]", str(slug or "").lower()) if w]
        for n in range(len(words), 0, -1):
            head, tail = "_".join(words[:n]), "_".join(words[n:])
            names += [f"{head}.{tail}" if tail else head, head]
    out = []
    for name in names:
        if TIMM_NAME.fullmatch(name) and timm.is_model(name) and timm_tag_known(name) and name not in out:
            out.append(name)
    return out


def derive_timm_config(folder: Path, meta: dict) -> None:
    """Write a timm ``config.json`` for a bare state dict: the first timm architecture from the metadata it fits."""
    import timm

    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", *RAW_CHECKPOINT_SUFFIXES)
    )
    if len(files) != 1:
        present = sorted(p.name for p in folder.iterdir())[:8]
        kinds = [
            k
            for s, k in (
                ("saved_model.pb", "a TensorFlow SavedModel"),
                (".keras", "a Keras model"),
                (".h5", "Keras/HDF5 weights"),
                (".tflite", "a TFLite model"),
                (".onnx", "an ONNX model"),
                (".gguf", "a GGUF model"),
            )
            if any(n.endswith(s) for n in present)
        ]
        raise ModelLoadError(
            "Expected a config.json or one PyTorch weights file in the Kaggle instance, found"
            f" {kinds[0] if kinds else present or 'no files'}: only timm, transformers or plain timm state dicts are"
            " evaluated."
        )
    kind = weights_kind(files[0])
    shapes = (
        safetensors_header(files[0])
        if kind == "safetensors"
        else {k: tuple(v.shape) for k, v in load_torch_checkpoint(files[0]).items()}
    )
    candidates = timm_name_candidates(meta)
    if not candidates:
        raise ModelLoadError(
            f"Expected the Kaggle metadata (variation {meta.get('instance', {}).get('slug')!r}, model"
            f" {meta.get('model_slug')!r}) to name a timm architecture for its bare state dict, found none: the network"
            " to build is unknown."
        )
    tried = []
    for name in candidates:
        heads = [h for h in timm_head(name) if f"{h}.weight" in shapes]
        if not heads:
            tried.append(f"{name} (no {'/'.join(timm_head(name)) or 'head'} weights)")
            continue
        num_classes = shapes[f"{heads[0]}.weight"][0]
        try:
            with torch.device("meta"):
                net = timm.create_model(name, pretrained=False, num_classes=num_classes)
        except Exception as exc:  # noqa: BLE001 - a constructor that cannot run on meta: try it for real below
            tried.append(f"{name} ({type(exc).__name__})")
            continue
        if net_shapes(net) == shapes:
            cfg = timm.models.get_pretrained_cfg(name)
            cfg = cfg.to_dict() if cfg else {}
            pretrained = {k: cfg[k] for k in ("input_size", "mean", "std") if cfg.get(k) is not None}
            config = {
                "architecture": name,
                "num_classes": num_classes,
                "pretrained_cfg": pretrained,
                "sn_lake_derived": "architecture from the Kaggle instance's metadata",
            }
            (folder / "config.json").write_text(json.dumps(config, indent=1))
            return
        tried.append(f"{name} (tensors differ)")
    raise ModelLoadError(
        "Expected the bare state dict to fit a timm architecture the metadata names, found none that fits:"
        f" {tried[:4]}."
    )
