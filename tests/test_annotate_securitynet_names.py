"""The dataset and architecture rules know every name the SecurityNet table uses."""

import pytest

from sn_lake.annotate.architectures import model_family
from sn_lake.annotate.datasets import canonical_dataset, data_category
from sn_lake.sources.securitynet import parse as securitynet


@pytest.fixture(scope="module")
def model_rows(securitynet_table):
    rows = securitynet.parse_tables(securitynet_table.read_text(encoding="utf-8"))
    return [r for r in rows if r.table in securitynet.MODEL_TABLES]


def test_every_data_name_is_a_known_dataset_with_the_stated_category(model_rows):
    for row in model_rows:
        dataset = canonical_dataset(row.values["data_name"])
        assert dataset is not None, row.values["data_name"]
        assert data_category(dataset) == row.values["data_category"], (row.values["data_name"], dataset)


@pytest.mark.parametrize(
    ("name", "dataset"),
    [
        ("CIFAR-10", "cifar10"),
        ("CIFAR-100", "cifar100"),
        ("ImageNet1k", "imagenet-1k"),
        ("CUB-200-2011", "cub-200-2011"),
        ("SVHN", "svhn"),
        ("bloodmnist", "bloodmnist"),
        ("adrenalmnist3d", "adrenalmnist3d"),
        ("OrganMNIST3D", "organmnist3d"),
    ],
)
def test_securitynet_dataset_spellings(name, dataset):
    assert canonical_dataset(name) == dataset


@pytest.mark.parametrize(
    ("model_type", "family"),
    [
        ("resnet", "resnet"),
        ("wrn", "wide_resnet"),
        ("resnesta", "resnest"),
        ("espnetv", "espnetv2"),
        ("seresnet", "seresnet"),
        ("preresnet", "preresnet"),
        ("densenet", "densenet"),
        ("vgg", "vgg"),
    ],
)
def test_securitynet_model_types_to_families(model_type, family):
    assert model_family(model_type) == family


def test_every_model_type_has_a_family(model_rows):
    assert all(model_family(r.values["model_type"]) for r in model_rows)
