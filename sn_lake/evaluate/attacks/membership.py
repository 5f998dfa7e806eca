"""Membership inference: metric attacks scored from logits in float64, and offline LiRA.

Metric attacks (Song & Mittal, "Systematic Evaluation of Privacy Risks of Machine Learning
Models", USENIX Security 2021; Yeom et al. 2018 for loss and correctness) score each example
from the model's logits alone; a higher score means "more likely a member". The reference-model
attack is LiRA offline (Carlini et al., "Membership Inference Attacks From First Principles", S&P
2022): reference models trained without the target examples give a Gaussian of the logit-scaled
confidence per example, and an example scores by how far above that Gaussian the target sits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
from scipy.stats import norm, rankdata

from sn_lake.evaluate import training
from sn_lake.evaluate.attacks.sampling import RowLogits, logits_at, sample_index
from sn_lake.evaluate.configs import LIRA_LR, METRIC_ATTACKS, MembershipConfig
from sn_lake.evaluate.data import Split

_MIA = MembershipConfig()

LOG_FPR_GRID = np.logspace(-3, 0, 31)  # the log-scale ROC points kept per attack


def metric_scores(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-example member scores of every metric attack, computed in float64 from logits."""
    z = logits.double()
    y = labels.long()
    log_p = torch.log_softmax(z, dim=1)
    p = log_p.exp()
    log_p_y = log_p.gather(1, y[:, None]).squeeze(1)
    p_y = log_p_y.exp()
    log_1m_p = torch.log1p(-p.clamp(max=1 - 1e-16))
    entropy = -(p * log_p).sum(1)
    # Song & Mittal's modified entropy: -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)
    others = (p * log_1m_p).sum(1) - p_y * log_1m_p.gather(1, y[:, None]).squeeze(1)
    modified_entropy = -(1 - p_y) * log_p_y - others
    return {
        "correctness": (z.argmax(1) == y).double().numpy(),
        "confidence": p_y.numpy(),
        "entropy": (-entropy).numpy(),
        "modified_entropy": (-modified_entropy).numpy(),
        "loss": log_p_y.numpy(),  # minus the cross-entropy loss
    }


def auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half), exact for any score."""
    n_m, n_n = len(member_scores), len(nonmember_scores)
    ranks = rankdata(np.concatenate([member_scores, nonmember_scores]))
    return float((ranks[:n_m].sum() - n_m * (n_m + 1) / 2) / (n_m * n_n))


def roc_curve(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every threshold (predict member when score >= threshold)."""
    thresholds = np.unique(np.concatenate([member_scores, nonmember_scores]))[::-1]
    m_sorted, n_sorted = np.sort(member_scores), np.sort(nonmember_scores)
    tpr = (len(m_sorted) - np.searchsorted(m_sorted, thresholds, side="left")) / len(m_sorted)
    fpr = (len(n_sorted) - np.searchsorted(n_sorted, thresholds, side="left")) / len(n_sorted)
    return np.concatenate([[0.0], fpr]), np.concatenate([[0.0], tpr])


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """The highest TPR over thresholds whose FPR is at most ``target``."""
    return float(tpr[fpr <= target].max())


def roc_summary(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> dict:
    fpr, tpr = roc_curve(member_scores, nonmember_scores)
    return {
        "auc": auc(member_scores, nonmember_scores),
        "tpr_at_1pct_fpr": tpr_at_fpr(fpr, tpr, 0.01),
        "tpr_at_01pct_fpr": tpr_at_fpr(fpr, tpr, 0.001),
        "roc_fpr": LOG_FPR_GRID.tolist(),
        "roc_tpr": [tpr_at_fpr(fpr, tpr, f) for f in LOG_FPR_GRID],
    }


def bootstrap(member_scores: np.ndarray, nonmember_scores: np.ndarray, n: int, seed: int) -> dict:
    """Percentile 95% intervals of AUC and TPR at 1% / 0.1% FPR (members and non-members resampled separately)."""
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        m = member_scores[rng.integers(0, len(member_scores), len(member_scores))]
        o = nonmember_scores[rng.integers(0, len(nonmember_scores), len(nonmember_scores))]
        fpr, tpr = roc_curve(m, o)
        stats.append((auc(m, o), tpr_at_fpr(fpr, tpr, 0.01), tpr_at_fpr(fpr, tpr, 0.001)))
    low, high = np.percentile(np.array(stats), [2.5, 97.5], axis=0)
    names = ("auc", "tpr_at_1pct_fpr", "tpr_at_01pct_fpr")
    return {
        **{f"{k}_ci_low": float(v) for k, v in zip(names, low, strict=True)},
        **{f"{k}_ci_high": float(v) for k, v in zip(names, high, strict=True)},
    }


def balanced_index(
    n_members: int, n_nonmembers: int, max_per_side: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows :func:`balanced` keeps of each side."""
    n = min(n_members, n_nonmembers, max_per_side)
    return sample_index(n_members, n, seed), sample_index(n_nonmembers, n, seed + 1)


def balanced(members: Split, nonmembers: Split, max_per_side: int, seed: int) -> tuple[Split, Split]:
    """Equal numbers of members and non-members (at most ``max_per_side`` each), seeded."""
    m, n = balanced_index(len(members), len(nonmembers), max_per_side, seed)
    return members.take(m), nonmembers.take(n)


def score_rows(member_scores: dict, nonmember_scores: dict, n_bootstrap: int, seed: int) -> list[dict]:
    rows = []
    for name in member_scores:
        row = {"attack": name, **roc_summary(member_scores[name], nonmember_scores[name])}
        if n_bootstrap:
            row.update(bootstrap(member_scores[name], nonmember_scores[name], n_bootstrap, seed))
        row["n_members"], row["n_nonmembers"] = len(member_scores[name]), len(nonmember_scores[name])
        rows.append(row)
    return rows


class MetricAttacks:
    """Correctness, confidence, entropy, modified entropy and loss attacks on balanced members / non-members.

    ``balance=False`` keeps every given example (the study's whole-train vs whole-test setting, where
    the correctness attack's AUC equals 0.5 + gap / 2 exactly).
    """

    def __init__(
        self,
        attacks=_MIA.attacks,
        max_per_side: int = _MIA.max_per_side,
        balance: bool = True,
        n_bootstrap: int = _MIA.n_bootstrap,
        seed: int = _MIA.seed,
    ):
        unknown = set(attacks) - set(METRIC_ATTACKS)
        if unknown:
            raise ValueError(f"Expected metric attacks from {METRIC_ATTACKS}, found {sorted(unknown)}: drop them.")
        self.attacks, self.max_per_side, self.balance = tuple(attacks), max_per_side, balance
        self.n_bootstrap, self.seed = n_bootstrap, seed

    def __call__(
        self,
        model: nn.Module,
        members: Split,
        nonmembers: Split,
        device: torch.device,
        member_logits: RowLogits | None = None,
        nonmember_logits: RowLogits | None = None,
    ) -> list[dict]:
        """``member_logits`` / ``nonmember_logits``: the model's logits of rows of each side (shared forward passes)."""
        m_index = n_index = None  # balance=False: every example, in order
        if self.balance:
            m_index, n_index = balanced_index(len(members), len(nonmembers), self.max_per_side, self.seed)
        m_labels = members.y if m_index is None else members.y[m_index]
        n_labels = nonmembers.y if n_index is None else nonmembers.y[n_index]
        m = metric_scores(logits_at(model, members, m_index, device, member_logits), m_labels)
        n = metric_scores(logits_at(model, nonmembers, n_index, device, nonmember_logits), n_labels)
        keep = lambda scores: {k: scores[k] for k in self.attacks}  # noqa: E731
        return score_rows(keep(m), keep(n), self.n_bootstrap, self.seed)


def logit_scaled_confidence(logits: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """LiRA's statistic log(p_y / (1 - p_y)) = z_y - logsumexp_{j != y} z_j, stable in float64."""
    z = logits.double()
    z_y = z.gather(1, labels[:, None]).squeeze(1)
    others = z.scatter(1, labels[:, None], float("-inf"))
    return (z_y - torch.logsumexp(others, dim=1)).numpy()


class LiRAOffline:
    """Offline LiRA with ``n_reference`` OUT models of the target's architecture trained on auxiliary data.

    Each reference model trains on a seeded half of ``reference_data`` (which must not contain the
    evaluated examples); per example, the OUT statistics' mean and a global variance (Carlini et
    al.'s choice for few reference models) give the score log Phi((phi_target - mu_out) / sigma).
    """

    def __init__(
        self,
        n_reference: int = _MIA.lira_reference_models,
        epochs: int = _MIA.lira_epochs,
        lr: float = LIRA_LR,
        max_per_side: int = _MIA.max_per_side,
        n_bootstrap: int = _MIA.n_bootstrap,
        seed: int = _MIA.seed,
    ):
        self.n_reference, self.epochs, self.lr = n_reference, epochs, lr
        self.max_per_side, self.n_bootstrap, self.seed = max_per_side, n_bootstrap, seed

    def __call__(
        self,
        model: nn.Module,
        fresh_model: Callable[[], nn.Module],
        members: Split,
        nonmembers: Split,
        reference_data: Split,
        device: torch.device,
    ) -> list[dict]:
        """``fresh_model()`` builds an untrained network of the target's architecture."""
        members, nonmembers = balanced(members, nonmembers, self.max_per_side, self.seed)
        both = Split(torch.cat([members.x, nonmembers.x]), torch.cat([members.y, nonmembers.y]))
        target_phi = logit_scaled_confidence(training.logits_of(model, both.x, device), both.y)
        out_phis = []
        for k in range(self.n_reference):
            half = reference_data.sample(max(len(reference_data) // 2, 1), self.seed + 100 + k)
            torch.manual_seed(self.seed + 300 + k)
            reference = fresh_model()
            training.train(
                reference,
                half.x,
                half.y,
                epochs=self.epochs,
                lr=self.lr,
                seed=self.seed + 200 + k,
                device=device,
                progress=f"membership reference model {k + 1}/{self.n_reference}",
            )
            out_phis.append(logit_scaled_confidence(training.logits_of(reference, both.x, device), both.y))
        out = np.stack(out_phis)
        mu = out.mean(0)
        sigma = max(float((out - mu).std()), 1e-6)
        score = norm.logcdf((target_phi - mu) / sigma)
        rows = score_rows(
            {"lira_offline": score[: len(members)]},
            {"lira_offline": score[len(members) :]},
            self.n_bootstrap,
            self.seed,
        )
        rows[0]["n_reference"] = self.n_reference
        return rows
