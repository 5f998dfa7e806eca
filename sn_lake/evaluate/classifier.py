"""The network behind its own preprocessing: :class:`Classifier` takes images in [0, 1] and returns plain logits.

:class:`Preprocessing` says what happens to the images first (resize, crop, normalize), as the model's timm config
or transformers image processor does it, written as torch operations so attacks perturb [0, 1] pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass(frozen=True)
class Preprocessing:
    """What happens to [0, 1] images before the network: resize, crop, then ``(x - mean) / std``.

    ``mode="timm"``: resize to ``input_size`` when the images differ (bilinear), as timm's eval transform
    does for the datasets here. ``mode="transformers"``: the image processor's steps, in its order: warp to
    ``resize`` or scale the shortest edge to ``shortest_edge``, then center-crop ``crop`` (zero padding when
    larger). The processor's rescale factor is folded into ``mean``/``std``. ``in_chans=1``: the three
    (equal) channels of the datasets become one.
    """

    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    mode: str = "timm"
    resize: tuple[int, int] | None = None
    shortest_edge: int | None = None
    crop: tuple[int, int] | None = None
    interpolation: str = "bilinear"
    antialias: bool = False
    in_chans: int = 3


def shortest_edge_size(height: int, width: int, shortest: int) -> tuple[int, int]:
    """transformers' ``get_resize_output_image_size(default_to_square=False)``: the short side becomes ``shortest``."""
    short, long = (height, width) if height <= width else (width, height)
    new_long = int(shortest * long / short)
    return (shortest, new_long) if height <= width else (new_long, shortest)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """transformers' center crop: zero-pad when the crop is larger, then take the middle (top/left rounded down)."""
    height, width = x.shape[-2:]
    ch, cw = size
    if ch > height or cw > width:
        pad_w, pad_h = max(cw - width, 0), max(ch - height, 0)
        x = F.pad(x, (pad_w // 2, (pad_w + 1) // 2, pad_h // 2, (pad_h + 1) // 2))
        height, width = x.shape[-2:]
    top, left = int((height - ch) / 2.0), int((width - cw) / 2.0)
    return x[..., top : top + ch, left : left + cw]


class Classifier(nn.Module):
    """A network behind its own preprocessing: takes images in [0, 1], returns plain logits.

    Resizing, cropping and normalizing (:class:`Preprocessing`) happen inside, so attacks perturb and clip
    in [0, 1] pixel space. A transformers network's output object is reduced to its ``logits``, and
    ``label_order`` (set by :func:`~sn_lake.evaluate.models.align_labels`) reorders the logits into the dataset's
    class order.

    ``score_dtype`` (None: float32 throughout) runs the forward passes made without autograd (scoring: the
    logits the families share, queries, detectors) under autocast to that dtype, and returns float32 logits;
    passes that need gradients (FGSM, PGD, Neural Cleanse, training) stay in float32. Off by default:
    ``benchmarks/gpu.sh`` turns it on for a model only after its results matched float32 within the tolerances.
    """

    def __init__(
        self,
        net: nn.Module,
        input_size: tuple[int, int],
        mean,
        std,
        preprocessing: Preprocessing | None = None,
        hf_output: bool = False,
    ):
        super().__init__()
        self.net = net
        self.preprocessing = preprocessing or Preprocessing(tuple(input_size), tuple(mean), tuple(std))
        self.input_size = tuple(input_size)
        self.hf_output = hf_output
        self.score_dtype: torch.dtype | None = None
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("label_order", None, persistent=False)

    def set_label_order(self, order: Sequence[int] | None) -> None:
        """Logits ``[:, order]`` from now on (None, or the identity: the network's own order)."""
        if order is None or list(order) == list(range(len(order))):
            self.label_order = None
        else:
            self.label_order = torch.tensor(list(order), dtype=torch.long, device=self.mean.device)

    def _resize(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        mode = self.preprocessing.interpolation
        if mode == "nearest-exact":
            return F.interpolate(x, size=size, mode=mode)
        return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=self.preprocessing.antialias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.score_dtype is not None and not torch.is_grad_enabled():
            with torch.autocast(x.device.type, dtype=self.score_dtype):
                return self._logits(x).float()
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        p = self.preprocessing
        if p.in_chans == 1 and x.shape[1] == 3:
            x = x.mean(dim=1, keepdim=True)
        if p.mode == "timm":
            x = self._resize(x, self.input_size)
        else:
            if p.shortest_edge:
                x = self._resize(x, shortest_edge_size(x.shape[-2], x.shape[-1], p.shortest_edge))
            elif p.resize:
                x = self._resize(x, p.resize)
            if p.crop:
                x = center_crop(x, p.crop)
        # x - mean is a new tensor whatever came in, so dividing it in place saves an allocation, bit for bit
        x = (x - self.mean).div_(self.std)
        out = self.net(pixel_values=x, return_dict=True).logits if self.hf_output else self.net(x)
        if self.label_order is not None:
            out = out.index_select(1, self.label_order.to(out.device))
        return out
