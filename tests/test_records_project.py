"""Chapter 17's record module: its splits, candidates, shift augmentation, probe and arms."""
import pytest
import torch
from torch.utils.data import TensorDataset

from cnnbook.data import half_resolution, load_shapes10
from cnnbook.evaluate import calibration
from cnnbook.profile import count_params
from cnnbook.records import project
from cnnbook.records.project import (CANDIDATES, CANDIDATES_RECORD, PAGE_EPOCHS, RECIPE, RandomShift, balanced_subset,
                                     calibration_probe, converged_arm, page_arm, project_data, project_splits,
                                     with_shift)


def test_project_splits_are_shapes10_averaged_to_16x16():
    quick = project_splits(quick=True)
    full = load_shapes10(n_train=60, n_val=20, n_test=20)
    for mine, theirs in zip(quick, full):
        assert torch.equal(mine.tensors[0], half_resolution(theirs).tensors[0])
        assert mine.tensors[0].shape[1:] == (3, 16, 16)


def test_project_data_holds_a_balanced_small_set_with_the_same_val_and_test():
    data = project_data(quick=True)
    assert set(data) == {"raw", "std", "small"}
    assert torch.equal(torch.bincount(data["small"].train.tensors[1]), torch.full((10,), 3))
    assert data["small"].val is data["raw"].val and data["small"].test is data["raw"].test
    assert data["std"].train.tensors[0].mean((0, 2, 3)).abs().max() < 1e-5


def test_balanced_subset_keeps_the_first_images_of_each_class_in_order():
    labels = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 1])
    data = TensorDataset(torch.arange(9.0), labels)
    sub = balanced_subset(data, 2)
    assert sub.tensors[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="at least 4"):
        balanced_subset(data, 4)
    with pytest.raises(ValueError, match="positive int"):
        balanced_subset(data, 0)


@pytest.mark.parametrize("name", list(CANDIDATES))
def test_each_candidate_maps_a_16x16_batch_to_ten_scores(name):
    torch.manual_seed(0)
    model = CANDIDATES[name]()
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 10)
    assert 10_000 < count_params(model) < 100_000


def test_random_shift_moves_images_in_training_only_and_repeats_under_a_seed():
    x = torch.rand(8, 3, 16, 16)
    torch.manual_seed(3)
    a = RandomShift(2)
    torch.manual_seed(3)
    b = RandomShift(2)
    out = a(x)
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(out, b(x))  # the same seed, the same shifts
    assert torch.equal(a.eval()(x), x)
    # a shift moves pixels: every output image equals its input cropped from the reflected border somewhere
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(8):
        assert any(torch.equal(out[i], padded[i, :, dy:dy + 16, dx:dx + 16]) for dy in range(5) for dx in range(5))
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(0)


def test_with_shift_keeps_the_networks_initial_weights():
    torch.manual_seed(0)
    plain = CANDIDATES["home-made CNN"]()
    torch.manual_seed(0)
    shifted = with_shift(CANDIDATES["home-made CNN"])
    assert isinstance(shifted[0], RandomShift)
    for p, q in zip(plain.parameters(), shifted[1].parameters()):
        assert torch.equal(p, q)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(plain.eval()(x), shifted.eval()(x))


def test_calibration_probe_reports_the_test_set_and_its_temperature(monkeypatch):
    monkeypatch.setattr(project, "_probe_splits", lambda: project_splits(quick=True))
    torch.manual_seed(0)
    model = CANDIDATES["small VGG"]().eval()
    out = calibration_probe(model)
    assert set(out) == {"pred", "confidence", "ece", "temperature", "ece_scaled", "nll", "nll_scaled"}
    test = project_splits(quick=True).test
    probs = model(test.tensors[0]).softmax(1)
    assert out["pred"] == probs.argmax(1).tolist()
    assert abs(out["ece"] - calibration(probs.detach(), test.tensors[1]).ece) < 1e-5
    assert out["temperature"] > 0


def test_the_record_repeats_the_pages_runs_and_trains_the_candidates_longer():
    live = [a for a in CANDIDATES_RECORD.arms if a.live]
    assert [a.name for a in live] == [page_arm(n) for n in CANDIDATES]
    assert all(dict(a.recipe) == dict(RECIPE, epochs=PAGE_EPOCHS) and a.data == "raw" for a in live)
    for n in CANDIDATES:
        long = CANDIDATES_RECORD.arm(converged_arm(n))
        assert {k: v for k, v in long.recipe.items() if k != "epochs"} == RECIPE and long.recipe["epochs"] > PAGE_EPOCHS
    with_aug, without = (CANDIDATES_RECORD.arm(n) for n in project.SHIFT_ARMS)
    assert with_aug.recipe == without.recipe and with_aug.data == without.data == "small"


def test_the_pretrained_candidate_takes_the_projects_16x16_images():
    from cnnbook.records import project_pretrained as pre
    from cnnbook.transfer import RandomTranslate

    small = torch.rand(3, 3, 16, 16)
    big = pre.enlarge(TensorDataset(small, torch.tensor([0, 1, 2])))
    assert big.tensors[0].shape == (3, 3, 64, 64) and big.tensors[1].tolist() == [0, 1, 2]
    # bilinear enlargement keeps each image's mean colour (up to the border pixels' weights): no rescaling of values
    assert torch.allclose(big.tensors[0].mean((2, 3)), small.mean((2, 3)), atol=0.05)
    net = pre.pretrained_candidate().eval()
    assert isinstance(net[1][0], RandomTranslate)
    assert torch.equal(net[0](small), big.tensors[0])  # the network enlarges exactly as the probe's cached data
    assert net(small).shape == (3, 10)


def test_the_pretrained_record_repeats_the_pages_run_and_uses_chapter_15s_recipes():
    from cnnbook.records import project_pretrained as pre
    from cnnbook.records.transfer import PROBE, WHOLE

    record = pre.PRETRAINED_RECORD
    (live,) = [a for a in record.arms if a.live]
    assert live.name == page_arm("home-made CNN") and dict(live.recipe) == dict(RECIPE, epochs=PAGE_EPOCHS)
    assert live.build is CANDIDATES["home-made CNN"]
    assert record.arm(pre.PROBE_ARM).recipe == PROBE and record.arm(pre.PROBE_ARM).data == "lite_vectors"
    tuned = record.arm(pre.FINETUNED_ARM)
    assert dict(tuned.recipe) == dict(WHOLE, lr=pre.FINETUNE_LR, epochs=pre.FINETUNE_EPOCHS)
    assert tuned.probe is calibration_probe
