"""Chapter 12's kernel sweep behind random translations: the same rungs and recipe as the sweep, only shifted."""
import torch

from cnnbook.records import convnext_design, convnext_shifted as S
from cnnbook.records.convnext import RECIPE
from cnnbook.transfer import RandomTranslate


def test_the_shifted_rungs_are_the_sweeps_rungs_behind_a_translation():
    for k in S.KERNELS:
        arm = S.SHIFTED.arm(S.kernel_arm_name(k))
        assert dict(arm.recipe) == dict(RECIPE, epochs=S.EPOCHS) and arm.data == "std"
        torch.manual_seed(0)
        net = arm.build()
        torch.manual_seed(0)
        plain = convnext_design.kernel_builder(k)()
        assert isinstance(net[0], RandomTranslate) and net[0].max_shift == S.MAX_SHIFT
        assert all(torch.equal(p, q) for p, q in zip(net[1].parameters(), plain.parameters()))  # the same start
        x = torch.rand(2, 3, 32, 32)
        assert torch.equal(net.eval()(x), plain.eval()(x))  # in eval mode the translation is the identity


def test_the_record_shares_the_sweeps_live_arm_and_shifts_the_small_cnn_too():
    (live,) = [a for a in S.SHIFTED.arms if a.live]
    (theirs,) = [a for a in convnext_design.DESIGN.arms if a.live]
    assert (live.name, dict(live.recipe), live.data) == (theirs.name, dict(theirs.recipe), theirs.data)
    cnn = S.SHIFTED.arm(S.CNN_ARM)
    assert isinstance(cnn.build()[0], RandomTranslate) and cnn.data == "raw" and cnn.recipe["epochs"] == S.EPOCHS
