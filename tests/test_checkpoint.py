import pytest
import torch
from torch import nn

from cnnbook.checkpoint import load_checkpoint, save_checkpoint
from cnnbook.models import small_cnn


def test_round_trip_restores_weights_and_meta(tmp_path):
    torch.manual_seed(0)
    model, other = small_cnn(num_classes=10), small_cnn(num_classes=10)
    path = save_checkpoint(model, tmp_path / "sub" / "best.pt", epoch=3, val_acc=0.75)
    assert load_checkpoint(other, path) == {"epoch": 3, "val_acc": 0.75}
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name


def test_file_loads_with_weights_only(tmp_path):
    path = save_checkpoint(nn.Linear(2, 3), tmp_path / "lin.pt", note="plain values only")
    assert torch.load(path, weights_only=True)["architecture"] == "Linear"


def test_another_architecture_is_refused(tmp_path):
    path = save_checkpoint(small_cnn(num_classes=10), tmp_path / "cnn.pt")
    with pytest.raises(ValueError, match="holds a SmallCNN .* the model is a Linear"):
        load_checkpoint(nn.Linear(2, 3), path)


def test_same_class_other_shape_is_refused_and_model_untouched(tmp_path):
    path = save_checkpoint(nn.Linear(2, 3), tmp_path / "lin.pt")
    target = nn.Linear(2, 4)
    before = target.weight.clone()
    with pytest.raises(ValueError, match=r"shape mismatch .*weight: saved \(3, 2\), model \(4, 2\)"):
        load_checkpoint(target, path)
    assert torch.equal(target.weight, before)


def test_foreign_file_and_bad_arguments(tmp_path):
    torch.save({"weight": torch.zeros(1)}, tmp_path / "raw.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(nn.Linear(1, 1), tmp_path / "raw.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(nn.Linear(1, 1), tmp_path / "absent.pt")
    with pytest.raises(TypeError, match="nn.Module"):
        save_checkpoint({"weight": torch.zeros(1)}, tmp_path / "x.pt")
