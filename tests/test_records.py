"""The reference-run registry: every record is complete and matches its recipe, and every record's quick mode runs."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cnnbook.experiments import SeedRuns
from cnnbook.records import (RECORD_SEEDS, Arm, Record, check_record, curves, get_record, load_record, registry,
                             run_record, shapes10_data, train_arm, yardsticks)
from cnnbook.records.core import META_KEYS
from cnnbook.train import History

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_record_is_complete_and_matches_its_recipe(name):
    ref = check_record(name)
    record = get_record(name)
    assert all(k in ref.meta for k in META_KEYS) and ref.meta["threads"] == 1 and ref.meta["seconds"] > 0
    assert ref.meta["command"] == f"make record NAME={name}"
    assert [r.name for r in ref.yardsticks()][2].startswith("small CNN")
    assert any(a.live for a in record.arms), "a record repeats the page's live run, its fingerprint"
    for run in ref.runs:
        assert len(run.test_acc) >= 5 and all(0 <= a <= 1 for a in run.test_acc)


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_record_runs_in_quick_mode(name, tmp_path):
    out = run_record(name, quick=True, out=tmp_path / f"{name}.json", jobs=1, log=lambda line: None)
    ref = load_record(name, out)
    assert ref.meta["quick"] is True and [r.name for r in ref.runs] == [a.name for a in get_record(name).arms]
    assert all(r.seeds == [0, 1] and len(r.histories) == 2 and len(r.histories[0]) == 1 for r in ref.runs)
    for arm, run in zip(get_record(name).arms, ref.runs):  # a probe's answer is kept per seed, and only for its arm
        assert ("probe" in run.extra) == (arm.probe is not None)
        if arm.probe is not None:
            assert len(run.extra["probe"]) == 2 and run.extra["probe"][0] == json.loads(json.dumps(run.extra["probe"][0]))
    with pytest.raises(ValueError, match="quick"):
        check_record(name, out)  # a quick run never passes for the real record


def test_command_line_lists_runs_and_refuses_unknown_names(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "cnnbook.records", "--list"], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert all(name in listed.stdout for name in registry())
    bad = subprocess.run([sys.executable, "-m", "cnnbook.records", "no_such_record"], capture_output=True, text=True,
                         cwd=ROOT)
    assert bad.returncode == 2 and "no record named 'no_such_record'" in bad.stderr


def test_parallel_workers_give_the_same_numbers_as_one_process(tmp_path):
    name = "shapes10_depth"
    one = load_record(name, run_record(name, quick=True, out=tmp_path / "one.json", jobs=1, log=lambda s: None))
    two = load_record(name, run_record(name, quick=True, out=tmp_path / "two.json", jobs=2, log=lambda s: None))
    assert [r.test_acc for r in one.runs] == [r.test_acc for r in two.runs]
    assert [h.train_loss for r in one.runs for h in r.histories] == [h.train_loss for r in two.runs for h in r.histories]


def test_quick_run_refuses_to_overwrite_the_real_record():
    from cnnbook.records import default_path

    with pytest.raises(ValueError, match="must not overwrite"):
        run_record("shapes10_depth", quick=True, out=default_path("shapes10_depth"))


def test_train_arm_repeats_run_seeds_exactly():
    from cnnbook.experiments import run_seeds

    record = get_record("shapes10_depth")
    arm = next(a for a in record.arms if a.live)
    splits = shapes10_data(True)["raw"]
    live = run_seeds("live", arm.build, splits, seeds=[1], device="cpu", **dict(arm.recipe, epochs=1))
    assert train_arm(record, arm, 1, quick=True)["test_acc"] == live.test_acc[0]


def _reference(tmp_path, accs, torch_version=None):
    name = "shapes10_depth"
    out = run_record(name, quick=True, out=tmp_path / "r.json", jobs=1, log=lambda s: None)
    raw = json.loads(out.read_text())
    raw["runs"][0]["test_acc"] = accs
    if torch_version:
        raw["meta"]["torch"] = torch_version
    out.write_text(json.dumps(raw))
    return load_record(name, out)


def test_fingerprint_says_equal_or_refuses_a_stale_record(tmp_path):
    ref = _reference(tmp_path, [0.5, 0.25])
    arm = ref.runs[0].name
    assert "equals it on seeds 0, 1" in ref.fingerprint(arm, SeedRuns("page", [0, 1], [0.5, 0.25]))
    with pytest.raises(ValueError, match="code changed"):
        ref.fingerprint(arm, SeedRuns("page", [0, 1], [0.5, 0.26]))
    with pytest.raises(ValueError, match="no seed"):
        ref.fingerprint(arm, SeedRuns("page", [7], [0.5]))
    other = _reference(tmp_path, [0.5, 0.25], torch_version="1.0.0")
    assert "compare with care" in other.fingerprint(arm, SeedRuns("page", [0, 1], [0.5, 0.26]))


def test_a_record_from_another_cpu_code_path_is_compared_not_refused(tmp_path, monkeypatch):
    from cnnbook.env import cpu_numerics

    ref = _reference(tmp_path, [0.5, 0.25])
    arm = ref.runs[0].name
    assert ref.meta["numerics"] == cpu_numerics() and cpu_numerics() in ref.provenance()
    assert ref.same_code_path
    ref.meta["numerics"] = "AVX512"  # made on a CPU whose torch ran its AVX-512 kernels
    assert not ref.same_code_path
    said = ref.fingerprint(arm, SeedRuns("page", [0, 1], [0.5, 0.26]))
    assert "[0.5, 0.25]" in said and "[0.5, 0.26]" in said and "AVX512" in said and "compare with care" in said
    del ref.meta["numerics"]  # a record made before the code path was stored
    assert "unrecorded code path" in ref.fingerprint(arm, SeedRuns("page", [0, 1], [0.5, 0.26]))
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    assert "MKL_CBWR=COMPATIBLE" in cpu_numerics()
    ref.meta.update(numerics="AVX2 MKL_CBWR=AVX2 ONEDNN_MAX_CPU_ISA=AVX2", cpu="AMD EPYC")  # pinned, another CPU
    assert not ref.same_code_path and "AMD EPYC, AVX2 MKL_CBWR=AVX2" in ref.provenance()


def test_the_code_path_names_the_processor():
    from cnnbook.env import cpu_model, cpu_numerics, executed_with

    model = cpu_model()
    assert model and cpu_numerics().endswith(f" on {model}") and executed_with().endswith(cpu_numerics())
    if Path("/proc/cpuinfo").exists() and "vendor_id" in Path("/proc/cpuinfo").read_text():
        assert " family " in model and " model " in model  # two CPUs with one marketing name stay apart


def test_the_makefile_pins_the_code_path_the_package_documents():
    from cnnbook.env import NUMERICS_PINS

    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    for name, value in NUMERICS_PINS.items():
        assert f"export {name} := {value}\n" in makefile


def test_records_refuse_bad_definitions():
    build = lambda: torch.nn.Linear(1, 1)  # noqa: E731
    with pytest.raises(ValueError, match="unknown recipe keys"):
        Arm("a", build, dict(epochs=1, momentum=0.9))
    with pytest.raises(ValueError, match="epochs"):
        Arm("a", build, dict(lr=0.1))
    with pytest.raises(ValueError, match="yardstick"):
        Record("r", "00", "claim", shapes10_data, "data", (Arm("a", build, dict(epochs=1)),))
    with pytest.raises(ValueError, match="at least 5 seeds"):
        Record("r", "00", "claim", shapes10_data, "data", yardsticks(1), seeds=(0, 1, 2))
    with pytest.raises(ValueError, match="distinct"):
        Record("r", "00", "claim", shapes10_data, "data", yardsticks(1) + yardsticks(1))
    with pytest.raises(ValueError, match="borrows its yardsticks"):
        Record("r", "00", "claim", shapes10_data, "data", yardsticks(1), yardsticks_from="other")
    with pytest.raises(ValueError, match="borrows its yardsticks"):
        Record("r", "00", "claim", shapes10_data, "data", (Arm("a", build, dict(epochs=1)),), yardsticks_from="r")
    with pytest.raises(ValueError, match="no record named"):
        get_record("nope")
    with pytest.raises(ValueError, match="make record NAME=nope"):
        load_record("nope")
    assert len(RECORD_SEEDS) >= 5


@pytest.mark.parametrize("name", sorted(n for n, r in registry().items() if r.yardsticks_from is not None))
def test_a_split_claims_second_record_shows_the_first_records_yardsticks(name):
    record = get_record(name)
    lender = get_record(record.yardsticks_from)
    assert lender.data is record.data and lender.chapter == record.chapter
    # the borrowed small CNN trains on the images of the borrower's own table, for as many epochs
    small_cnn = [a for a in lender.arms if a.yardstick][2]
    assert any(a.data == small_cnn.data and a.recipe["epochs"] == small_cnn.recipe["epochs"]
               for a in record.arms if not a.live)
    assert [r.name for r in load_record(name).yardsticks()][2].startswith("small CNN")


def test_a_record_that_borrows_its_yardsticks_needs_a_lender_on_the_same_data(tmp_path, monkeypatch):
    from cnnbook.experiments import linear_model
    from cnnbook.records import core

    arm = Arm("linear", lambda: linear_model((3, 32, 32), 10), dict(epochs=1), data="std", live=True)
    lender = Record("lender", "00", "claim", shapes10_data, "data", yardsticks(1))
    other_data = Record("borrower", "00", "claim", lambda quick: shapes10_data(quick), "data", (arm,),
                        yardsticks_from="lender")
    monkeypatch.setattr(core, "_REGISTRY", {"lender": lender, "borrower": other_data})
    out = run_record("borrower", quick=True, out=tmp_path / "borrower.json", jobs=1, log=lambda line: None)
    with pytest.raises(ValueError, match="borrows its yardsticks from 'lender', which trains on other data"):
        check_record("borrower", out)
    core._REGISTRY["borrower"] = replace(other_data, data=shapes10_data)
    with pytest.raises(ValueError) as err:  # only the quick run is wrong now
        check_record("borrower", out)
    assert "quick" in str(err.value) and "borrows" not in str(err.value)


def test_curves_and_missing_histories():
    runs = [SeedRuns("a", [0, 1], [0.5, 0.6], [History(train_loss=[2.0, 1.0]), History(train_loss=[2.2, 1.2])])]
    assert torch.allclose(curves(runs)["a"], torch.tensor([[2.0, 1.0], [2.2, 1.2]]))
    with pytest.raises(ValueError, match="metric"):
        curves(runs, "loss")
    with pytest.raises(ValueError, match="no per-epoch curves"):
        curves([SeedRuns("b", [0], [0.5])])


def test_flat_share_of_difference_and_blur_kernels():
    from cnnbook.records.digits import first_layer, flat_share
    sobel = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    weight = torch.stack([sobel, torch.ones(3, 3), torch.eye(3) - 0.5]).unsqueeze(1)  # (3, 1, 3, 3)
    assert torch.allclose(flat_share(weight), torch.tensor([0.0, 1.0, 1.5 / 4.5]))
    with pytest.raises(ValueError, match="convolution weight"):
        flat_share(torch.ones(3, 3))
    net = torch.nn.Module()
    net.conv1 = torch.nn.Conv2d(1, 3, 3)
    with torch.no_grad():
        net.conv1.weight.copy_(weight)
    assert first_layer(net)["flat_share"] == [0.0, 1.0, round(1.5 / 4.5, 6)]


def test_erf_probe_measures_the_untrained_weights_it_kept():
    from cnnbook.models import small_cnn
    from cnnbook.records.erf import erf_probe, keeping_initial
    build = lambda: small_cnn(10)  # noqa: E731
    net = keeping_initial(build)()
    assert "initial_state" not in dict(net.named_modules()) and len(list(net.parameters())) == len(list(build().parameters()))
    probe = erf_probe(("features.10",), build)
    before = probe(net.eval())
    assert before["features.10 untrained"] == before["features.10 trained"]  # nothing trained yet
    with torch.no_grad():
        net.features[0].weight.mul_(-1.0).add_(0.1)  # "training" changes the weights, not the kept copy
    after = probe(net)
    assert after["features.10 untrained"] == before["features.10 untrained"]
    assert after["features.10 trained"] != before["features.10 trained"]
