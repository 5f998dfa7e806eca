"""Backdoor detection: Neural Cleanse (model level), STRIP and NEO (input level).

Model-level verdicts, the same everywhere (``flagged`` in ``results.backdoor_detection``;
``analytics.backdoor_detection`` counts a flagged clean model as a false positive):

* Neural Cleanse flags the model when the anomaly index of its smallest reverse-engineered trigger
  exceeds ``threshold`` (2, as in the paper).
* STRIP and NEO judge inputs, so their model-level verdict is taken over the inputs the model would
  see in use: held-out clean test inputs, plus, when the model's card names its trigger, those inputs
  (of other labels than the target) stamped with it, as an attacker using the backdoor would send them.
  The model is flagged when the detector rejects more than ``flag_rate`` of that stream as trojaned;
  ``score`` is the rejected share. On a clean model (or a public one whose backdoor, if any, is
  unknown) the stream is clean only, every rejection is a false rejection, and a flag is a false
  positive; on a model whose trigger is known a flag means the detector caught the backdoor in use.
  ``false_rejection_rate`` (clean inputs) and ``detection_rate`` (triggered inputs) are reported apart.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from sn_lake import progress
from sn_lake.evaluate.configs import NC_LAMBDA_UP, NC_PATIENCE, NC_SUCCESS, NEO_CONFIRM_RATE, NEO_VERIFY, BackdoorConfig
from sn_lake.evaluate.data import Split

_BD = BackdoorConfig()

MAD_CONSISTENCY = 1.4826  # scales the median absolute deviation to a standard deviation under normality


def anomaly_indices(norms: np.ndarray) -> np.ndarray:
    """Neural Cleanse's anomaly index per label: (median - norm) / (1.4826 * MAD), positive below the median."""
    median = np.median(norms)
    mad = MAD_CONSISTENCY * np.median(np.abs(norms - median))
    return (median - norms) / max(mad, 1e-12)


class NeuralCleanse:
    """Neural Cleanse (Wang et al., S&P 2019): the smallest mask + pattern flipping clean inputs to each label.

    The loss per label is cross-entropy to that label plus lambda times the mask's L1 norm; as in the
    paper, each label's lambda adapts (raised by ``lambda_up`` after ``patience`` steps at an attack
    success of at least ``success``, lowered otherwise) and the label's norm is the smallest one
    reached at that success. All labels' triggers are optimized together: each step stacks the batch
    once per label (``labels_per_pass`` labels per pass; ``None`` = all), so one pass updates every
    label's mask. Verdict: anomaly index (MAD) of the smallest norm above ``threshold``.
    """

    def __init__(
        self,
        steps: int = _BD.nc_steps,
        lr: float = _BD.nc_lr,
        lambda_l1: float = _BD.nc_lambda,
        batch_size: int = _BD.nc_batch_size,
        threshold: float = _BD.nc_threshold,
        labels_per_pass: int | None = None,
        success: float = NC_SUCCESS,
        patience: int = NC_PATIENCE,
        lambda_up: float = NC_LAMBDA_UP,
        seed: int = _BD.seed,
    ):
        self.steps, self.lr, self.lambda_l1, self.batch_size = steps, lr, lambda_l1, batch_size
        self.threshold, self.labels_per_pass, self.seed = threshold, labels_per_pass, seed
        self.success, self.patience, self.lambda_up = success, patience, lambda_up

    def reverse_engineer(
        self, model: nn.Module, clean: Split, labels: list[int], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per label of ``labels``: the smallest mask L1 norm reached at the target attack success, and the final
        masks."""
        _, c, h, w = clean.x.shape
        n = len(labels)
        gen = torch.Generator().manual_seed(self.seed)
        mask_param = torch.full((n, 1, h, w), -3.0, device=device, requires_grad=True)
        pattern_param = torch.zeros((n, c, h, w), device=device, requires_grad=True)
        opt = torch.optim.Adam([mask_param, pattern_param], lr=self.lr, betas=(0.5, 0.9))
        targets = torch.tensor(labels, device=device).repeat_interleave(self.batch_size)
        lam = torch.full((n,), self.lambda_l1, device=device)
        best = torch.full((n,), float("inf"), device=device)
        streak_ok = torch.zeros(n, device=device)
        streak_bad = torch.zeros(n, device=device)
        for _ in range(self.steps):
            idx = torch.randint(0, len(clean), (self.batch_size,), generator=gen)
            x = clean.x[idx].to(device)
            mask = torch.sigmoid(mask_param)  # n x 1 x h x w
            pattern = torch.sigmoid(pattern_param)
            stamped = (1 - mask[:, None]) * x[None] + (mask * pattern)[:, None]  # n x b x c x h x w
            logits = model(stamped.reshape(n * self.batch_size, c, h, w))
            ce = F.cross_entropy(logits, targets, reduction="none").view(n, self.batch_size).mean(1)
            norms = mask.flatten(1).sum(1)
            loss = (ce + lam * norms).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                asr = (logits.argmax(1) == targets).float().view(n, self.batch_size).mean(1)
                ok = asr >= self.success
                best = torch.where(ok, torch.minimum(best, norms.detach()), best)
                streak_ok = torch.where(ok, streak_ok + 1, torch.zeros_like(streak_ok))
                streak_bad = torch.where(ok, torch.zeros_like(streak_bad), streak_bad + 1)
                up, down = streak_ok >= self.patience, streak_bad >= self.patience
                lam = torch.where(up, lam * self.lambda_up, torch.where(down, lam / self.lambda_up**1.5, lam))
                streak_ok, streak_bad = torch.where(up, 0, streak_ok), torch.where(down, 0, streak_bad)
        final = torch.sigmoid(mask_param).detach()[:, 0]
        # a label that never reached the success rate keeps its final norm (an upper bound, never flagged as small)
        best = torch.where(torch.isinf(best), final.flatten(1).sum(1) + h * w, best)
        return best, final

    def __call__(self, model: nn.Module, clean: Split, num_classes: int, device: torch.device) -> dict:
        per_pass = self.labels_per_pass or num_classes
        norms = []
        bar = progress.Progress("neural cleanse", total=num_classes, unit="labels")
        for start in range(0, num_classes, per_pass):
            labels = list(range(start, min(start + per_pass, num_classes)))
            norms.append(self.reverse_engineer(model, clean, labels, device)[0])
            bar.update(len(labels))
        bar.close()
        norms = torch.cat(norms).cpu().double().numpy()
        index = anomaly_indices(norms)
        target = int(np.argmin(norms))
        return {
            "detector": "neural_cleanse",
            "flagged": bool(index[target] > self.threshold),
            "score": float(index[target]),
            "target_label": target,
            "per_label_norms": norms.tolist(),
        }


def stream_verdict(
    detector: str, clean_rejected: np.ndarray, triggered_rejected: np.ndarray | None, flag_rate: float
) -> dict:
    """The model-level row of an input-level detector from its per-input rejections (see the module docstring)."""
    stream = clean_rejected if triggered_rejected is None else np.concatenate([clean_rejected, triggered_rejected])
    score = float(stream.mean())
    row = {
        "detector": detector,
        "flagged": bool(score > flag_rate),
        "score": score,
        "false_rejection_rate": float(clean_rejected.mean()),
    }
    if triggered_rejected is not None:
        row["detection_rate"] = float(triggered_rejected.mean())
    return row


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits.double(), 1)
    return -(log_p.exp() * log_p).sum(1)


class STRIP:
    """STRIP (Gao et al., ACSAC 2019): a trojaned input keeps its prediction when other images are superimposed.

    Each input is added to ``n_superimpose`` held-out clean images (clipped to [0, 1]); the mean
    prediction entropy is its score, low meaning trojaned. The threshold is the ``frr`` quantile of the
    clean calibration inputs' entropies (the false-rejection rate the defender accepts). Model-level
    verdict: more than ``flag_rate`` of the model's input stream rejected (see the module docstring).
    """

    def __init__(
        self,
        n_superimpose: int = _BD.strip_superimpose,
        frr: float = _BD.strip_frr,
        flag_rate: float = _BD.flag_rate,
        seed: int = _BD.seed,
    ):
        self.n_superimpose, self.frr, self.flag_rate, self.seed = n_superimpose, frr, flag_rate, seed

    @torch.no_grad()
    def entropies(self, model: nn.Module, x: torch.Tensor, overlay: torch.Tensor, device: torch.device) -> np.ndarray:
        gen = torch.Generator().manual_seed(self.seed)
        out = []
        for i in range(len(x)):
            pick = overlay[torch.randint(0, len(overlay), (self.n_superimpose,), generator=gen)]
            blended = (x[i : i + 1] + pick).clamp(0, 1).to(device)
            out.append(float(_entropy(model(blended)).mean()))
        return np.array(out)

    def __call__(
        self,
        model: nn.Module,
        calibration: Split,
        overlay: Split,
        evaluation: Split,
        device: torch.device,
        triggered: torch.Tensor | None = None,
    ) -> dict:
        """``calibration`` sets the threshold, ``evaluation`` (clean, held out) measures false rejections."""
        threshold = float(np.quantile(self.entropies(model, calibration.x, overlay.x, device), self.frr))
        rejected = lambda x: self.entropies(model, x, overlay.x, device) < threshold  # noqa: E731
        row = stream_verdict(
            "strip", rejected(evaluation.x), None if triggered is None else rejected(triggered), self.flag_rate
        )
        return {**row, "threshold": threshold}


class NEO:
    """NEO (Udeshi et al., 2019/2022): find a trigger by blocking image regions with the image's dominant colour.

    For each input, every ``window`` x ``window`` region (stride ``stride``) is covered with the image's
    dominant colour (its per-channel median); a region whose covering changes the prediction is a
    candidate trigger, and it is confirmed when pasting it onto ``n_verify`` clean images turns at
    least ``confirm_rate`` of them to the input's predicted label. Input-level; model-level verdict:
    more than ``flag_rate`` of the model's input stream confirmed trojaned (see the module docstring).
    """

    def __init__(
        self,
        window: int = _BD.neo_window,
        stride: int = _BD.neo_stride,
        n_verify: int = NEO_VERIFY,
        confirm_rate: float = NEO_CONFIRM_RATE,
        flag_rate: float = _BD.flag_rate,
        seed: int = _BD.seed,
    ):
        self.window, self.stride, self.n_verify, self.confirm_rate = window, stride, n_verify, confirm_rate
        self.flag_rate, self.seed = flag_rate, seed

    @torch.no_grad()
    def locate(
        self, model: nn.Module, x: torch.Tensor, verify: Split, device: torch.device
    ) -> list[tuple[int, int] | None]:
        """Per input, the (row, col) of a confirmed trigger window, or None."""
        _, c, h, w = x.shape
        rows = sorted({*range(0, h - self.window + 1, self.stride), h - self.window})  # the last row/column band too
        cols = sorted({*range(0, w - self.window + 1, self.stride), w - self.window})
        positions = [(r, s) for r in rows for s in cols]
        gen = torch.Generator().manual_seed(self.seed)
        found = []
        for image in x:
            image = image.to(device)
            label = int(model(image[None]).argmax(1))
            colour = image.flatten(1).median(1).values.view(c, 1, 1)
            covered = image.repeat(len(positions), 1, 1, 1)
            for k, (r, s) in enumerate(positions):
                covered[k, :, r : r + self.window, s : s + self.window] = colour
            logits = model(covered)
            changed = torch.nonzero(logits.argmax(1) != label).flatten()
            location = None
            if len(changed):
                drop = -torch.log_softmax(logits[changed], 1)[:, label]
                r, s = positions[int(changed[int(drop.argmax())])]
                others = verify.take(torch.nonzero(verify.y != label).flatten())
                pick = others.x[torch.randint(0, len(others), (self.n_verify,), generator=gen)].to(device)
                pick[:, :, r : r + self.window, s : s + self.window] = image[
                    :, r : r + self.window, s : s + self.window
                ]
                if float((model(pick).argmax(1) == label).double().mean()) >= self.confirm_rate:
                    location = (r, s)
            found.append(location)
        return found

    def __call__(
        self,
        model: nn.Module,
        evaluation: Split,
        verify: Split,
        device: torch.device,
        triggered: torch.Tensor | None = None,
        trigger_mask: torch.Tensor | None = None,
    ) -> dict:
        found = lambda locations: np.array([loc is not None for loc in locations])  # noqa: E731
        locations = None if triggered is None else self.locate(model, triggered, verify, device)
        row = stream_verdict(
            "neo",
            found(self.locate(model, evaluation.x, verify, device)),
            None if locations is None else found(locations),
            self.flag_rate,
        )
        if locations is not None and trigger_mask is not None:
            on_trigger = [
                loc is not None
                and bool(trigger_mask[loc[0] : loc[0] + self.window, loc[1] : loc[1] + self.window].any())
                for loc in locations
            ]
            row["trigger_located_rate"] = float(np.mean(on_trigger))
        return row
