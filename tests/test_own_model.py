"""A model of one's own, trained and scored here with code independent of sn_lake's.

The results are compared with what `sn-lake` writes for it.

The digits split is rebuilt from the recipe in docs/evaluation.md ("Evaluate a model of your own") with
scikit-learn, NumPy and PyTorch only; the network is a timm model trained with a plain loop; the
metrics are recomputed with scikit-learn. sn_lake must write the same numbers.
"""

import json

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from sn_lake import cli, warehouse

MEMBERS = 597  # as many members as the test split has non-members, so the membership attack scores both whole splits
MODEL_ARGS = {"channels": [8, 16, 32, 64], "layers": [1, 1, 1, 1]}


def digits_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The documented recipe: /16, bilinear to 32x32, three channels; test = the first 597 of a seed-0 permutation."""
    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1).repeat(1, 3, 1, 1)
    labels = torch.tensor(bunch.target, dtype=torch.long)
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(labels)))
    test, train = order[:597], order[597:]
    return images[train], labels[train], images[test], labels[test]


@pytest.fixture
def own_model(settings):
    x_train, y_train, x_test, y_test = digits_split()
    members_x, members_y = x_train[:MEMBERS], y_train[:MEMBERS]
    torch.manual_seed(123)
    net = timm.create_model("resnet18", num_classes=10, **MODEL_ARGS)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    normalize = lambda x: (x - 0.5) / 0.5  # noqa: E731  (mean and std 0.5, as config.json says)
    net.train()
    for _ in range(6):
        for idx in torch.randperm(MEMBERS).split(64):
            loss = F.cross_entropy(net(normalize(members_x[idx])), members_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    folder = settings.home / "zoo" / "my-digits-resnet"
    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    config = {
        "architecture": "resnet18",
        "num_classes": 10,
        "model_args": MODEL_ARGS,
        "pretrained_cfg": {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.5] * 3},
        "sn_lake": {"dataset": "digits", "train_size": MEMBERS},
    }
    (folder / "config.json").write_text(json.dumps(config))
    with torch.no_grad():
        logits_in, logits_out = net(normalize(members_x)).double(), net(normalize(x_test)).double()
    return {"logits_in": logits_in, "y_in": members_y, "logits_out": logits_out, "y_out": y_test}


def test_sn_lake_writes_the_metrics_independent_code_computes(settings, own_model):
    assert cli.main(["crawl", "local"]) == 0
    config = json.dumps({"eval_membership_inference": {"config": {"max_per_side": 1000, "n_bootstrap": 10}}})
    assert cli.main(["evaluate", "local:my-digits-resnet", "--attacks", "membership", "--config", config]) == 0

    m = own_model
    train_acc = float((m["logits_in"].argmax(1) == m["y_in"]).double().mean())
    test_acc = float((m["logits_out"].argmax(1) == m["y_out"]).double().mean())
    membership = np.r_[np.ones(MEMBERS), np.zeros(len(m["y_out"]))]
    logits, labels = torch.cat([m["logits_in"], m["logits_out"]]), torch.cat([m["y_in"], m["y_out"]])
    log_p_y = torch.log_softmax(logits, 1).gather(1, labels[:, None]).squeeze(1).numpy()
    expected_auc = {
        "loss": roc_auc_score(membership, log_p_y),  # minus the cross-entropy
        "confidence": roc_auc_score(membership, np.exp(log_p_y)),
        "correctness": roc_auc_score(membership, (logits.argmax(1) == labels).numpy()),
    }

    con = warehouse.connect(settings, read_only=True)
    got = con.execute(
        "SELECT train_accuracy, test_accuracy, overfit_gap, dataset FROM results.task_accuracy "
        "WHERE model_id = 'local:my-digits-resnet'"
    ).fetchall()
    assert len(got) == 1
    assert got[0][:3] == pytest.approx((train_acc, test_acc, train_acc - test_acc), abs=1e-12) and got[0][3] == "digits"
    aucs = dict(
        con.execute(
            "SELECT attack, auc FROM results.membership_inference WHERE model_id = 'local:my-digits-resnet'"
        ).fetchall()
    )
    for attack, value in expected_auc.items():
        assert aucs[attack] == pytest.approx(value, abs=1e-9), attack
    assert aucs["correctness"] == pytest.approx(0.5 + (train_acc - test_acc) / 2, abs=1e-9)  # the study's identity
