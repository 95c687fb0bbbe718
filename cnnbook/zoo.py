"""Every classification network of the book in one registry, and the tools that compare them.

Each entry records the facts that are not computable (year, paper, the paper's own ImageNet top-1 with its
test protocol); everything else is computed: parameters and MACs on the meta device (no memory, no
arithmetic), FLOPs = 2 x MACs, torchvision's top-1 read from its weights' metadata (nothing downloaded),
and latency measured on the reader's machine.

torchvision's metadata calls its cost column ``GFLOPS`` (``weights.meta["_ops"]``), but the numbers are
billions of multiply-accumulates: ResNet-50's "4.089 GFLOPS" are 4.089 G MACs, 8.18 G FLOPs.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from cnnbook import models
from cnnbook.profile import count_params, flops, latency


@dataclass(frozen=True)
class PaperTop1:
    """An ImageNet top-1 accuracy (percent) as the paper reports it, and how it was measured."""

    value: float
    protocol: str


@dataclass(frozen=True)
class Entry:
    """One network of the book: builder name in ``cnnbook.models``, provenance and input resolution."""

    name: str
    label: str
    year: int
    cite: str
    family: str
    depthwise: bool  # built mostly of depthwise separable / inverted residual blocks
    torchvision: str | None
    input_size: tuple[int, int, int]
    paper_top1: PaperTop1 | None = None
    paper_note: str = ""
    kwargs: tuple[tuple[str, object], ...] = ()
    fixed_resolution: bool = False  # a ViT's position embeddings, LeNet's flat classifier fix the input size

    def build(self, **overrides) -> nn.Module:
        """Build the book's network (random weights) with the entry's keyword arguments."""
        return getattr(models, self.name)(**{**dict(self.kwargs), **overrides})

    def weights(self):
        """torchvision's DEFAULT weights enum member (metadata only; nothing is downloaded), or None."""
        if self.torchvision is None:
            return None
        from torchvision.models import get_model_weights

        return get_model_weights(self.torchvision).DEFAULT

    def torchvision_top1(self) -> float | None:
        """ImageNet-1K top-1 (percent) of torchvision's DEFAULT weights, from their metadata."""
        w = self.weights()
        return None if w is None else float(w.meta["_metrics"]["ImageNet-1K"]["acc@1"])


_P = PaperTop1
_TEN_CROP = "10 crops averaged, ILSVRC-2012 val"
ZOO: tuple[Entry, ...] = (
    Entry("lenet5", "LeNet-5", 1998, "lecun1998gradient", "classic", False, None, (1, 32, 32),
          paper_note="MNIST digits, not ImageNet", fixed_resolution=True),
    Entry("alexnet", "AlexNet", 2012, "krizhevsky2012imagenet", "classic", False, "alexnet", (3, 224, 224),
          _P(59.3, "one CNN, " + _TEN_CROP + " (Table 2: 40.7% error)")),
    Entry("vgg11", "VGG-11", 2015, "simonyan2015vgg", "classic", False, "vgg11", (3, 224, 224),
          _P(70.4, "config A, single scale Q=256, dense evaluation (Table 3: 29.6% error)")),
    Entry("vgg16", "VGG-16", 2015, "simonyan2015vgg", "classic", False, "vgg16", (3, 224, 224),
          _P(73.0, "config D, S=Q=256, dense evaluation (Table 3: 27.0% error)")),
    Entry("googlenet", "GoogLeNet", 2015, "szegedy2015going", "classic", False, "googlenet", (3, 224, 224),
          paper_note="the paper reports top-5 only", kwargs=(("aux_logits", False),)),
    Entry("resnet18", "ResNet-18", 2016, "he2016deep", "residual", False, "resnet18", (3, 224, 224),
          _P(72.12, _TEN_CROP + " (Table 2: 27.88% error)")),
    Entry("resnet34", "ResNet-34", 2016, "he2016deep", "residual", False, "resnet34", (3, 224, 224),
          _P(75.48, _TEN_CROP + " (Table 3, option B: 24.52% error)")),
    Entry("resnet50", "ResNet-50", 2016, "he2016deep", "residual", False, "resnet50", (3, 224, 224),
          _P(77.15, _TEN_CROP + " (Table 3: 22.85% error)")),
    Entry("resnet101", "ResNet-101", 2016, "he2016deep", "residual", False, "resnet101", (3, 224, 224),
          _P(78.25, _TEN_CROP + " (Table 3: 21.75% error)")),
    Entry("resnet152", "ResNet-152", 2016, "he2016deep", "residual", False, "resnet152", (3, 224, 224),
          _P(78.57, _TEN_CROP + " (Table 3: 21.43% error)")),
    Entry("resnext50_32x4d", "ResNeXt-50 32x4d", 2017, "xie2017resnext", "residual", False, "resnext50_32x4d",
          (3, 224, 224), _P(77.8, "single 224 crop (Table 3: 22.2% error)")),
    Entry("densenet121", "DenseNet-121", 2017, "huang2017densenet", "residual", False, "densenet121", (3, 224, 224),
          _P(74.98, "single 224 crop (Table 3: 25.02% error)")),
    Entry("densenet169", "DenseNet-169", 2017, "huang2017densenet", "residual", False, "densenet169", (3, 224, 224),
          _P(76.20, "single 224 crop (Table 3: 23.80% error)")),
    Entry("mobilenet_v1", "MobileNetV1", 2017, "howard2017mobilenets", "mobile", True, None, (3, 224, 224),
          _P(70.6, "single crop (Table 8)")),
    Entry("mobilenet_v2", "MobileNetV2", 2018, "sandler2018mobilenetv2", "mobile", True, "mobilenet_v2",
          (3, 224, 224), _P(72.0, "single crop (Table 4)")),
    Entry("mobilenet_v3_small", "MobileNetV3-Small", 2019, "howard2019mobilenetv3", "mobile", True,
          "mobilenet_v3_small", (3, 224, 224), _P(67.4, "single crop (Table 3)")),
    Entry("mobilenet_v3_large", "MobileNetV3-Large", 2019, "howard2019mobilenetv3", "mobile", True,
          "mobilenet_v3_large", (3, 224, 224), _P(75.2, "single crop (Table 3)")),
    Entry("efficientnet_b0", "EfficientNet-B0", 2019, "tan2019efficientnet", "mobile", True, "efficientnet_b0",
          (3, 224, 224), _P(76.3, "single crop at 224 (Table 2 of the ICML paper; a later revision gives 77.1)")),
    Entry("efficientnet_b3", "EfficientNet-B3", 2019, "tan2019efficientnet", "mobile", True, "efficientnet_b3",
          (3, 300, 300), _P(81.1, "single crop at 300 (Table 2 of the ICML paper; a later revision gives 81.6)")),
    Entry("efficientnet_lite0", "EfficientNet-Lite0", 2020, "tan2019efficientnet", "mobile", True, None,
          (3, 224, 224), paper_note="a 2020 TensorFlow release, not in the paper"),
    Entry("efficientnet_v2_s", "EfficientNetV2-S", 2021, "tan2021efficientnetv2", "mobile", True,
          "efficientnet_v2_s", (3, 384, 384), _P(83.9, "ImageNet-1K only, progressive resizing (Table 7)")),
    Entry("vit_b_16", "ViT-B/16", 2021, "dosovitskiy2021vit", "transformer", False, "vit_b_16", (3, 224, 224),
          _P(77.9, "ImageNet-1k only, fine-tuned at 384 (Table 5); its headline figures follow larger pre-training"),
          fixed_resolution=True),
    Entry("vit_b_32", "ViT-B/32", 2021, "dosovitskiy2021vit", "transformer", False, "vit_b_32", (3, 224, 224),
          _P(73.4, "ImageNet-1k only, fine-tuned at 384 (Table 5); its headline figures follow larger pre-training"),
          fixed_resolution=True),
    Entry("convnext_tiny", "ConvNeXt-T", 2022, "liu2022convnet", "modern", False, "convnext_tiny", (3, 224, 224),
          _P(82.1, "ImageNet-1K, single 224 crop (Table 1)")),
    Entry("convnext_small", "ConvNeXt-S", 2022, "liu2022convnet", "modern", False, "convnext_small", (3, 224, 224),
          _P(83.1, "ImageNet-1K, single 224 crop (Table 1)")),
)
REGISTRY: dict[str, Entry] = {e.name: e for e in ZOO}


def entry(name: str | Entry) -> Entry:
    """The registry entry of ``name`` (a builder name such as ``"resnet50"``)."""
    if isinstance(name, Entry):
        return name
    if name not in REGISTRY:
        raise ValueError(f"unknown network {name!r}; the zoo has {sorted(REGISTRY)}")
    return REGISTRY[name]


def _entries(names: Iterable[str | Entry] | None) -> list[Entry]:
    if isinstance(names, (str, Entry)):
        raise TypeError(f"names must be a list of network names, got the single name {names!r}")
    return list(ZOO) if names is None else [entry(n) for n in names]


@dataclass
class Row:
    """One network's computed costs at its registry resolution, beside its recorded facts."""

    entry: Entry
    params: int
    macs: int
    flops: int  # = 2 * macs
    top1: float | None  # torchvision's DEFAULT weights, else None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.entry.name


def count(name: str | Entry, input_size: Sequence[int] | None = None) -> tuple[int, int]:
    """(parameters, MACs) of one network, built and run on the meta device (free, whatever its size; cached)."""
    e = entry(name)
    size = tuple(input_size or e.input_size)
    if len(size) != 3 or not all(isinstance(s, int) and s > 0 for s in size):
        raise ValueError(f"input_size must be (channels, height, width) of positive ints, got {input_size!r}")
    return _count(e.name, size)


@functools.lru_cache(maxsize=None)
def _count(name: str, input_size: tuple[int, int, int]) -> tuple[int, int]:
    with torch.device("meta"):
        model = REGISTRY[name].build()
    return count_params(model), flops(model, input_size) // 2


def table(names: Iterable[str | Entry] | None = None) -> list[Row]:
    """Parameters, MACs, FLOPs and torchvision's top-1 for each network (all of the zoo by default)."""
    rows = []
    for e in _entries(names):
        params, macs = count(e)
        rows.append(Row(e, params, macs, 2 * macs, e.torchvision_top1()))
    return rows


@dataclass
class Timing:
    """Measured latency of one network: median milliseconds per forward pass of a batch."""

    name: str
    resolution: int
    batch_size: int
    ms: float
    macs: int  # per image, at this resolution

    @property
    def ms_per_image(self) -> float:
        return self.ms / self.batch_size

    @property
    def gmacs_per_s(self) -> float:
        """Arithmetic throughput achieved: billions of MACs per second."""
        return self.batch_size * self.macs / (self.ms * 1e6)


def measure(names: Iterable[str | Entry], resolution: int | None = 224, batch_sizes: Sequence[int] = (1, 8),
            warmup: int = 1, repeats: int = 3, device: str | torch.device = "cpu",
            threads: int | None = 1) -> list[Timing]:
    """Median latency of each network at ``resolution`` (None: the registry's) and each batch size.

    ``threads`` fixes torch's CPU threads while measuring (restored after); a ViT and LeNet-5 always run
    at their own resolution. Weights are random: the speed of a network does not depend on its values.
    """
    if resolution is not None and (not isinstance(resolution, int) or resolution < 16):
        raise ValueError(f"resolution must be an int >= 16 or None, got {resolution!r}")
    if not batch_sizes or any(not isinstance(b, int) or b < 1 for b in batch_sizes):
        raise ValueError(f"batch_sizes must be positive ints, got {batch_sizes!r}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}")
    entries = _entries(names)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    out = []
    try:
        for e in entries:
            channels, size, _ = e.input_size
            if resolution is not None and not e.fixed_resolution:
                size = resolution
            shape = (channels, size, size)
            _, macs = count(e, shape)
            model = e.build().eval()
            for b in batch_sizes:
                ms = latency(model, shape, device=device, batch_size=b, warmup=warmup, repeats=repeats)
                out.append(Timing(e.name, size, b, ms, macs))
    finally:
        torch.set_num_threads(previous)
    return out


def pareto_front(costs: Sequence[float], scores: Sequence[float | None]) -> list[int]:
    """Indices of the points no other point beats (cost <= and score >=, one of them strictly), by cost.

    Points whose score is None (no accuracy known) are left out.
    """
    if len(costs) != len(scores):
        raise ValueError(f"costs and scores must have the same length, got {len(costs)} and {len(scores)}")
    if any(c is None or not math.isfinite(c) or c < 0 for c in costs):
        raise ValueError(f"costs must be finite and non-negative, got {list(costs)}")
    points = sorted((c, -s, i) for i, (c, s) in enumerate(zip(costs, scores)) if s is not None)
    front, best = [], -math.inf
    for c, neg_score, i in points:  # by cost, and at equal cost the best score first
        if -neg_score > best:
            front.append(i)
            best = -neg_score
    return front


def best_within(rows: Sequence, budget: float, cost: Callable[[object], float],
                score: Callable[[object], float | None]):
    """The row with the highest score among those whose cost is within ``budget`` (None if none fits)."""
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    fitting = [r for r in rows if score(r) is not None and cost(r) <= budget]
    return max(fitting, key=lambda r: (score(r), -cost(r)), default=None)


@dataclass
class PhotoCheck:
    """The book's network and torchvision's, both with torchvision's pretrained weights, on one photo."""

    photo: str
    top: list[tuple[str, float]]  # the book's network: (category, probability), best first
    agrees: bool  # torchvision's network gives the same top-1 category


def photo_check(name: str | Entry, photos: Sequence[str] | None = None, top: int = 3,
                device: str | torch.device = "cpu") -> list[PhotoCheck]:
    """Load torchvision's DEFAULT ImageNet weights (a download, cached in ``TORCH_HOME``) into the book's
    network and classify the book's photos with both, each preprocessed by the weights' own transforms."""
    from torchvision.models import get_model

    from cnnbook.data import PHOTOS, load_photo

    e = entry(name)
    weights = e.weights()
    if weights is None:
        raise ValueError(f"{e.label} has no torchvision weights to load")
    names = sorted(PHOTOS) if photos is None else list(photos)
    reference = get_model(e.torchvision, weights=weights).eval().to(device)
    ours = models.load_torchvision_weights(e.build(), reference).eval().to(device)
    x = torch.stack([weights.transforms()(load_photo(n)) for n in names]).to(device)
    with torch.no_grad():
        logits, theirs = ours(x).cpu(), reference(x).cpu()
    categories = weights.meta["categories"]
    best = logits.softmax(1).topk(top, dim=1)
    agrees = (logits.argmax(1) == theirs.argmax(1)).tolist()
    return [PhotoCheck(n, [(categories[j], p) for p, j in zip(v.tolist(), i.tolist())], same)
            for n, v, i, same in zip(names, best.values, best.indices, agrees)]
