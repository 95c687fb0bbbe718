import pytest
import torch
import torchvision
from torch import nn

from cnnbook.profile import ForwardTrace, count_params, flops, latency, macs, summary, trace_forward


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 16 * 16, 10),
    )


def test_count_params_by_hand():
    net = small_net()
    assert count_params(net) == (3 * 9 * 64 + 64) + (64 * 16 * 16 * 10 + 10)
    net[0].requires_grad_(False)
    assert count_params(net, trainable_only=True) == 64 * 16 * 16 * 10 + 10


def test_count_params_matches_torchvision_resnet18():
    assert count_params(torchvision.models.resnet18()) == 11_689_512


def test_macs_and_flops_by_hand():
    net = small_net()
    conv = 64 * 32 * 32 * 3 * 9
    linear = 64 * 16 * 16 * 10
    assert macs(net, (3, 32, 32)) == conv + linear
    assert flops(net, (3, 32, 32)) == 2 * (conv + linear)


def test_macs_of_resnet18_matches_published_1_81_gmacs():
    # torchvision documents 1.81 "GFLOPS" for resnet18, which are multiply-accumulates.
    assert macs(torchvision.models.resnet18(), (3, 224, 224)) / 1e9 == pytest.approx(1.81, abs=0.01)


def test_flops_keeps_training_mode():
    net = small_net().train()
    flops(net, (3, 32, 32))
    assert net.training


def test_latency_is_positive_milliseconds():
    ms = latency(small_net(), (3, 32, 32), device="cpu", warmup=1, repeats=3)
    assert 0 < ms < 5_000


def test_summary_rows_shapes_and_params():
    rows = summary(small_net(), (3, 32, 32))
    assert [r.kind for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert rows[0].output_shape == (64, 32, 32)
    assert rows[2].output_shape == (64, 16, 16)
    assert rows[-1].output_shape == (10,)
    assert sum(r.params for r in rows) == count_params(small_net())
    text = str(rows)
    assert "Conv2d" in text and "64x32x32" in text and "total parameters" in text


def test_summary_depth_folds_children():
    model = torchvision.models.resnet18()
    rows = summary(model, (3, 64, 64), depth=1)
    assert [r.name for r in rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]
    assert rows[7].output_shape == (512, 2, 2)
    assert sum(r.params for r in rows) == count_params(model)


@pytest.mark.parametrize("bad", [(3, 0, 32), 32, (3, 32.0, 32)])
def test_bad_input_size(bad):
    with pytest.raises(ValueError, match="input_size"):
        macs(small_net(), bad)


def test_bad_model_and_arguments():
    with pytest.raises(ValueError, match="nn.Module"):
        count_params("resnet")
    with pytest.raises(ValueError, match="repeats"):
        latency(small_net(), (3, 32, 32), repeats=0)
    with pytest.raises(ValueError, match="depth"):
        summary(small_net(), (3, 32, 32), depth=0)


@pytest.mark.parametrize("measure", [macs, flops, summary, lambda m, s: latency(m, s, repeats=1, warmup=0)])
def test_input_that_does_not_fit_the_model_is_a_clear_error(measure):
    with pytest.raises(ValueError, match=r"cannot run on an input of shape \(1, 32, 32\)"):
        measure(small_net(), (1, 32, 32))  # the first conv expects 3 channels


# --- attention: FlopCounterMode alone misses the CPU attention kernel and nn.MultiheadAttention's fast path ---

import math  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from cnnbook import profile  # noqa: E402

TOKENS, WIDTH, HEADS = 10, 64, 4
ONE_LAYER_MACS = 4 * TOKENS * WIDTH**2 + 2 * TOKENS**2 * WIDTH  # q, k, v, out projections; q @ k^T; weights @ v


class TorchAttention(nn.Module):
    """nn.MultiheadAttention used as self-attention (in eval under no_grad it takes the fused fast path)."""

    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class SDPA(nn.Module):
    """Only the attention itself, through F.scaled_dot_product_attention: (1, heads, L, d) q, k, v."""

    def forward(self, x):
        q = x.view(1, TOKENS, HEADS, WIDTH // HEADS).transpose(1, 2)
        return F.scaled_dot_product_attention(q, q, q)


def test_attention_layer_by_hand():
    from cnnbook.models.vit import SelfAttention

    assert macs(SelfAttention(WIDTH, HEADS), (TOKENS, WIDTH)) == ONE_LAYER_MACS
    assert macs(TorchAttention(), (TOKENS, WIDTH)) == ONE_LAYER_MACS
    assert macs(SDPA(), (TOKENS, WIDTH)) == 2 * TOKENS**2 * WIDTH
    with torch.device("meta"):
        assert macs(TorchAttention(), (TOKENS, WIDTH)) == ONE_LAYER_MACS


def test_transformer_encoder_layer_fast_path_counted():
    # In eval under no_grad on the CPU this runs one fused kernel (torch._transformer_encoder_layer_fwd).
    layer = nn.TransformerEncoderLayer(WIDTH, HEADS, dim_feedforward=128, batch_first=True)
    assert macs(layer, (TOKENS, WIDTH)) == ONE_LAYER_MACS + 2 * TOKENS * WIDTH * 128


def test_plain_flop_counter_misses_attention_on_the_cpu():
    # The reason for the fix: what torch's counter alone reports for the same two modules.
    # (If a later torch counts these itself, this test fails and the module docstring needs updating.)
    x = torch.randn(1, TOKENS, WIDTH)
    for module, right in [(TorchAttention().eval(), ONE_LAYER_MACS), (SDPA(), 2 * TOKENS**2 * WIDTH)]:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            module(x)
        assert counter.get_total_flops() < 2 * right


def test_fused_fast_path_formula():
    # The safety net for code that still reaches torch._native_multi_head_attention: same count as by hand.
    module, x = TorchAttention().eval(), torch.randn(3, TOKENS, WIDTH)
    seen = []

    class Spy(torch.utils._python_dispatch.TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func.overloadpacket)
            return func(*args, **(kwargs or {}))

    counter = FlopCounterMode(display=False, custom_mapping=profile._EXTRA_FORMULAS)
    with counter, Spy(), torch.no_grad():
        module(x)
    assert torch.ops.aten._native_multi_head_attention in seen  # the fast path really ran
    assert counter.get_total_flops() == 2 * 3 * ONE_LAYER_MACS


def test_fast_path_setting_restored():
    assert torch.backends.mha.get_fastpath_enabled()
    macs(TorchAttention(), (TOKENS, WIDTH))
    assert torch.backends.mha.get_fastpath_enabled()
    from cnnbook.models.vit import SelfAttention

    with pytest.raises(ValueError, match="cannot run on an input of shape"):
        macs(SelfAttention(WIDTH, HEADS), (TOKENS, WIDTH + 1))
    assert torch.backends.mha.get_fastpath_enabled()


def test_torchvision_vit_b_16_matches_its_published_macs_on_cpu_and_meta():
    published = torchvision.models.ViT_B_16_Weights.IMAGENET1K_V1.meta["_ops"]  # labelled GFLOPS, counts MACs
    torch.manual_seed(0)
    on_cpu = macs(torchvision.models.vit_b_16(), (3, 224, 224))  # was 11.27 G before attention was counted
    with torch.device("meta"):
        on_meta = macs(torchvision.models.vit_b_16(), (3, 224, 224))
    assert on_cpu == on_meta
    assert on_cpu / 1e9 == pytest.approx(published, rel=1e-3)
    # By hand: patch embedding, then per layer 4 projections and 2 attention products over 197 tokens, the MLP.
    tokens, width, mlp = 197, 768, 3072
    by_hand = (196 * width * 3 * 16 * 16
               + 12 * (4 * tokens * width**2 + 2 * tokens**2 * width + 2 * tokens * width * mlp)
               + width * 1000)
    assert on_cpu == by_hand


def test_our_vit_counts_like_torchvision():
    from cnnbook.models.vit import vit_b_16

    with torch.device("meta"):
        ours, theirs = vit_b_16(), torchvision.models.vit_b_16()
    assert macs(ours, (3, 224, 224)) == macs(theirs, (3, 224, 224))
    assert flops(ours, (3, 224, 224)) == 2 * macs(ours, (3, 224, 224))


@pytest.mark.parametrize("name", ["swin_t", "vit_b_32"])
def test_torchvision_transformers_match_their_metadata(name):
    weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
    with torch.device("meta"):
        model = torchvision.models.get_model(name)
    size = weights.transforms().crop_size[0]
    assert macs(model, (3, size, size)) / 1e9 == pytest.approx(weights.meta["_ops"], rel=1e-3)


def _traced_net() -> nn.Sequential:
    # conv (new 8-channel map), in-place ReLU (no memory), conv (new 4-channel map), flatten (a view)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(8, 4, 3, padding=1),
                         nn.Flatten())


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_trace_forward_peak_by_hand(device):
    with torch.device(device):
        model = _traced_net()
    t = trace_forward(model, (3, 16, 16))
    # at the second conv the input, the first conv's output and the second's are alive: 3 + 8 + 4 channels
    assert t.peak == 4 * (3 + 8 + 4) * 16 * 16
    assert t.operators == 4
    assert t.live == 4 * 3 * 16 * 16  # afterwards only the caller's input is left
    assert trace_forward(model, (3, 16, 16), batch_size=8).peak == 8 * t.peak
    assert model.training  # the mode is restored


def test_forward_trace_frees_and_ignores_views():
    with ForwardTrace(start_bytes=100) as t:
        a = torch.ones(10)  # 40 bytes
        b = a.view(2, 5)  # a view: nothing new
        c = a + 1  # 40 bytes
        del c
        d = a * 2  # 40 bytes, reusing what c freed
    assert t.peak == 100 + 80 and t.live == 100 + 80 and t.operators == 4
    del a, b, d
    assert t.live == 100


def test_trace_bad_input():
    with pytest.raises(ValueError, match="start_bytes"):
        ForwardTrace(start_bytes=-1)
    with pytest.raises(ValueError, match="start_bytes"):
        ForwardTrace(start_bytes=1.5)
    with pytest.raises(ValueError, match="batch_size"):
        trace_forward(_traced_net(), (3, 8, 8), batch_size=0)
    with pytest.raises(ValueError, match="input_size"):
        trace_forward(_traced_net(), (3, -8, 8))
    with pytest.raises(ValueError, match="nn.Module"):
        trace_forward("resnet50", (3, 8, 8))
    with pytest.raises(ValueError, match="cannot run"):
        trace_forward(_traced_net(), (1, 8, 8))
