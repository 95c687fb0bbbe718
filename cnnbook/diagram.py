"""Architecture diagrams drawn from the nn.Module itself, so a figure can never drift from the code.

The module is traced with ``torch.fx``, every output shape is found by running the traced graph on the
``meta`` device (no real memory, no random numbers drawn, the module is not changed), and the graph is
laid out with matplotlib only:

- :func:`draw_block` draws one block top to bottom, one box per layer, with its branches side by side and
  its merges as a circle "+" (addition) or a "concat" pill (``torch.cat``).
- :func:`draw_network` draws a whole network as a chain of its children, wrapped into rows.
- :func:`block_graph` and :func:`network_graph` return the same pictures as plain data (nodes with labels,
  shapes and positions; edges) for tests and for readers who want to inspect them.
"""
from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
from torch import fx, nn

__all__ = [
    "DiagramNode", "DiagramGraph", "layer_label", "format_shape", "block_graph", "network_graph",
    "draw_block", "draw_network",
]

# ----------------------------------------------------------------------------------------------------------
# Plain data


@dataclass
class DiagramNode:
    """One box (or merge circle) of a diagram. ``shape`` excludes the batch dimension."""

    id: str
    label: str
    kind: str  # "input", "layer", "module", "op", "add", "mul", "concat"
    shape: tuple[int, ...] | None
    x: float = 0.0
    y: float = 0.0
    target: str = ""  # qualified module name(s) or function name
    members: tuple[str, ...] = ()  # the traced nodes this box stands for
    groups: int = 1  # a grouped convolution's groups (for split_groups)
    channelwise: bool = False  # acts on each channel separately (activation, pool, BN): stays inside a tower

    @property
    def shape_text(self) -> str:
        """The output shape as the figure prints it, e.g. ``64x32x32`` or ``10``."""
        return format_shape(self.shape)


@dataclass
class DiagramGraph:
    """A laid-out diagram: nodes in topological order and edges ``(source id, target id)``."""

    nodes: list[DiagramNode]
    edges: list[tuple[str, str]]
    layout: str = "vertical"  # "vertical" (draw_block) or "rows" (draw_network)
    meta: dict = field(default_factory=dict)

    def node(self, node_id: str) -> DiagramNode:
        """The node with this id (ValueError if there is none)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise ValueError(f"no node {node_id!r}; nodes are {[n.id for n in self.nodes]}")

    def find(self, kind: str | None = None, label: str | None = None) -> list[DiagramNode]:
        """Nodes of a kind and/or whose label contains ``label``."""
        return [n for n in self.nodes if (kind is None or n.kind == kind) and (label is None or label in n.label)]

    def predecessors(self, node_id: str) -> list[str]:
        """Ids of the nodes with an edge into ``node_id``."""
        return [a for a, b in self.edges if b == node_id]

    def successors(self, node_id: str) -> list[str]:
        """Ids of the nodes that ``node_id`` has an edge into."""
        return [b for a, b in self.edges if a == node_id]

    def num_paths(self, source: str, target: str) -> int:
        """How many distinct directed paths lead from ``source`` to ``target``."""
        order = [n.id for n in self.nodes]
        counts = dict.fromkeys(order, 0)
        counts[source] = 1
        for nid in order:
            for succ in self.successors(nid):
                counts[succ] += counts[nid]
        return counts[target]

    def chain_shapes(self) -> list[str]:
        """The output shapes along the nodes in order, consecutive repeats removed (for a chain)."""
        out: list[str] = []
        for n in self.nodes:
            text = n.shape_text
            if text and (not out or out[-1] != text):
                out.append(text)
        return out


_Edges = list[tuple[str, str]]
_Parts = tuple[list[DiagramNode], _Edges]

# ----------------------------------------------------------------------------------------------------------
# Labels


def format_shape(shape: Sequence[int] | None) -> str:
    """``(64, 32, 32)`` -> ``"64x32x32"``; ``None`` -> ``""``."""
    return "" if shape is None else "x".join(str(int(s)) for s in shape)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _ksize(k) -> str:
    a, b = _pair(k)
    return f"{a}x{b}"


def _stride(s) -> str:
    a, b = _pair(s)
    return str(a) if a == b else f"{a}x{b}"


_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
_ACTS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.ELU, nn.Hardswish,
         nn.PReLU, nn.Softmax)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_SPATIAL_2D = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def layer_label(module: nn.Module) -> str:
    """A short text for one layer: ``"Conv 3x3, 64"``, ``"BN"``, ``"MaxPool 2x2/2"``, ``"Linear 256→10"``, ...

    Convolutions read "Conv kxk/stride, out channels" (stride shown when > 1, ", g=2" for groups); pools
    always show their stride.
    """
    if not isinstance(module, nn.Module):
        raise ValueError(f"layer_label expects an nn.Module, got {type(module).__name__}")
    m = module
    name = type(m).__name__
    if isinstance(m, nn.Conv2d):
        text = f"Conv {_ksize(m.kernel_size)}"
        if _pair(m.stride) != (1, 1):
            text += f"/{_stride(m.stride)}"
        text += f", {m.out_channels}"
        if m.groups > 1:
            text += f", g={m.groups}"
        if _pair(m.dilation) != (1, 1):
            text += f", d={_stride(m.dilation)}"
        return text
    if name == "PartialConv2d":
        return f"Conv {m.kernel_size}x{m.kernel_size}, {m.out_channels} (partial)"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}→{m.out_features}"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return "BN"
    if isinstance(m, nn.LayerNorm):
        return "LayerNorm"
    if isinstance(m, nn.GroupNorm):
        return f"GroupNorm {m.num_groups}"
    if isinstance(m, nn.LocalResponseNorm):
        return "LRN"
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "MaxPool" if isinstance(m, nn.MaxPool2d) else "AvgPool"
        stride = m.stride if m.stride is not None else m.kernel_size
        return f"{kind} {_ksize(m.kernel_size)}/{_stride(stride)}"
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        kind = "Avg" if isinstance(m, nn.AdaptiveAvgPool2d) else "Max"
        size = m.output_size
        if size in (1, (1, 1)):
            return f"Global{kind}Pool"
        return f"Adapt{kind}Pool →{_ksize(size)}"
    if isinstance(m, nn.Dropout):
        return f"Dropout {m.p:g}"
    if name == "Subsampling":
        return f"Subsample {m.kernel_size}x{m.kernel_size} (trainable)"
    if name == "RBFOutput":
        return f"RBF {m.centres.shape[1]}→{m.centres.shape[0]}"
    if name == "ZeroPadShortcut":
        return f"Subsample /{m.stride}, +{m.extra_channels} zero ch"
    return name


def _function_label(node: fx.Node) -> str:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    table = {
        "relu": "ReLU", "relu_": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "gelu": "GELU", "softmax": "Softmax",
        "max_pool2d": "MaxPool", "avg_pool2d": "AvgPool", "dropout": "Dropout", "pad": "Pad",
        "getitem": "Slice", "pow": "Power", "sum": "Sum", "mean": "Mean", "neg": "Negate", "sub": "−",
        "truediv": "÷", "unsqueeze": "Unsqueeze", "interpolate": "Upsample",
    }
    if name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        size = node.args[1] if len(node.args) > 1 else node.kwargs.get("output_size")
        kind = "Avg" if "avg" in name else "Max"
        return f"Global{kind}Pool" if size in (1, (1, 1)) else f"Adapt{kind}Pool →{_ksize(size)}"
    return table.get(name, name)


# ----------------------------------------------------------------------------------------------------------
# Input checks, tracing and shapes on the meta device


def _check_module(module: object, what: str) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise ValueError(f"{what} expects an nn.Module, got {type(module).__name__}: {module!r:.60}")
    return module


def _check_shape(module: nn.Module, input_shape: object) -> tuple[int, ...]:
    if isinstance(input_shape, torch.Size):
        input_shape = tuple(input_shape)
    if (not isinstance(input_shape, (tuple, list)) or not input_shape
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in input_shape)):
        raise ValueError(
            f"input_shape must be a tuple of positive ints without the batch dimension, e.g. (3, 32, 32); "
            f"got {input_shape!r}"
        )
    shape = tuple(input_shape)
    spatial = any(isinstance(m, _SPATIAL_2D) or type(m).__name__ == "PartialConv2d" for m in module.modules())
    if spatial and len(shape) != 3:
        raise ValueError(
            f"{type(module).__name__} has 2-D layers, so input_shape must be (channels, height, width) without "
            f"the batch dimension; got {shape} ({len(shape)} dims)"
        )
    return shape


def _nesting(root: nn.Module, qualname: str) -> int:
    """How many non-container modules lie on the path to ``qualname`` (itself included)."""
    parts = qualname.split(".")
    count = 0
    for i in range(1, len(parts) + 1):
        if type(root.get_submodule(".".join(parts[:i]))) not in _CONTAINERS:
            count += 1
    return count


class _Tracer(fx.Tracer):
    def __init__(self, depth: int | None) -> None:
        super().__init__()
        self.depth = depth

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if type(m).__name__ in ("ZeroPadShortcut", "PartialConv2d", "Subsampling", "RBFOutput", "ScaledTanh"):
            return True
        if super().is_leaf_module(m, qualname):
            return True
        if self.depth is not None and qualname and type(m) not in _CONTAINERS:
            return _nesting(self.root, qualname) >= self.depth
        return False


def _trace(module: nn.Module, depth: int | None) -> fx.GraphModule:
    tracer = _Tracer(depth)
    try:
        graph = tracer.trace(module)
    except Exception as err:  # fx raises TraceError, TypeError, RuntimeError... depending on the construct
        raise ValueError(
            f"cannot draw {type(module).__name__}: torch.fx.symbolic_trace failed ({type(err).__name__}: {err}). "
            "Diagrams need a forward without data-dependent Python control flow."
        ) from None
    return fx.GraphModule(tracer.root, graph)


class _ShapeInterpreter(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule, name: str, input_shape: tuple[int, ...]) -> None:
        super().__init__(gm)
        self.shapes: dict[str, tuple[int, ...] | None] = {}
        self.model_name = name
        self.input_shape = input_shape

    def call_function(self, target, args, kwargs):
        # A block that takes "a tensor or a list" (DenseLayer) was traced as if it got a list: cat([x]) is x.
        if target in _CAT and args and isinstance(args[0], torch.Tensor):
            args = ([args[0]], *args[1:])
        return super().call_function(target, args, kwargs)

    def run_node(self, n: fx.Node):
        try:
            out = super().run_node(n)
        except Exception as err:
            where = f" at {n.target}" if n.op != "call_function" else ""
            message = _explain(self.module, n, err)
            raise ValueError(
                f"{self.model_name} refuses input shape {self.input_shape} (a batch of (N, "
                f"{', '.join(map(str, self.input_shape))})){where}: {message}"
            ) from None
        if isinstance(out, torch.Tensor):
            self.shapes[n.name] = tuple(out.shape[1:])
            n.meta["diagram_shape"] = tuple(out.shape)
        elif isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor) and n.op == "output":
            self.shapes[n.name] = tuple(out[0].shape[1:])
        else:
            self.shapes[n.name] = None
        return out


def _explain(gm: fx.GraphModule, n: fx.Node, err: Exception) -> str:
    """The error in words: for a layer that gets the wrong number of channels, say what it expects and got."""
    message = str(err).split("\n\nWhile executing")[0].strip()
    if n.op == "call_module" and n.args and isinstance(n.args[0], fx.Node):
        mod = gm.get_submodule(n.target)
        got = n.args[0].meta.get("diagram_shape")
        for attr, dim in (("in_channels", 1), ("in_features", -1), ("num_features", 1)):
            want = getattr(mod, attr, None)
            if isinstance(want, int) and got is not None and len(got) > max(dim, 0) and got[dim] != want:
                what = "input features" if attr == "in_features" else "input channels"
                return f"{n.target} ({layer_label(mod)}) expects {want} {what}, got {got[dim]} ({message})"
    return message


class _Recorder(nn.Module):
    def __init__(self, gm: fx.GraphModule, name: str, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.gm = gm
        self.name = name
        self.input_shape = input_shape
        self.shapes: dict[str, tuple[int, ...] | None] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        interp = _ShapeInterpreter(self.gm, self.name, self.input_shape)
        interp.run(x)
        self.shapes = interp.shapes
        return x


def _meta_shapes(gm: fx.GraphModule, name: str, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...] | None]:
    """Run ``gm`` on meta tensors (weights swapped for meta copies): the module and the RNG stay untouched."""
    recorder = _Recorder(gm, name, input_shape)
    state = {f"gm.{k}": torch.empty_like(v, device="meta") for k, v in gm.named_parameters(remove_duplicate=False)}
    state.update({f"gm.{k}": torch.empty_like(v, device="meta") for k, v in gm.named_buffers(remove_duplicate=False)})
    x = torch.empty((2, *input_shape), device="meta")
    # The graph was traced in the module's own mode; its layers run in eval mode here (same shapes, and
    # BatchNorm's training-mode meta kernel is 20x slower), and get their modes back afterwards.
    modes = [(m, m.training) for m in gm.modules()]
    try:
        for m, _ in modes:
            m.training = False
        with torch.no_grad():
            torch.func.functional_call(recorder, state, (x,), strict=False)
    except ValueError as err:  # fx appends "While executing ..." to the message: keep the words only
        raise ValueError(str(err).split("\n\nWhile executing")[0].strip()) from None
    finally:
        for m, mode in modes:
            m.training = mode
    return recorder.shapes


# ----------------------------------------------------------------------------------------------------------
# From the fx graph to diagram nodes


_ADD = {operator.add, operator.iadd, torch.add}
_MUL = {operator.mul, operator.imul, torch.mul}
_CAT = {torch.cat, torch.concat}
_RESHAPE_FUNCS = {torch.flatten, torch.reshape}
_RESHAPE_METHODS = {"flatten", "view", "reshape", "contiguous", "squeeze"}
_CHANNELWISE_FUNCS = {"relu", "relu_", "tanh", "sigmoid", "gelu", "max_pool2d", "avg_pool2d", "dropout",
                      "adaptive_avg_pool2d", "adaptive_max_pool2d"}


def _is_reshape(node: fx.Node, mod: nn.Module | None) -> bool:
    if node.op == "call_module":
        return isinstance(mod, (nn.Flatten, nn.Identity, nn.Unflatten))
    if node.op == "call_function":
        return node.target in _RESHAPE_FUNCS
    if node.op == "call_method":
        return node.target in _RESHAPE_METHODS
    return False


def _nice_module_name(mod: nn.Module, qualname: str) -> str:
    """``Inception`` at ``inception3a`` -> "Inception 3a"; DenseBlock at ``features.denseblock1`` -> "DenseBlock 1"."""
    cls = type(mod).__name__
    last = qualname.split(".")[-1]
    if last.lower().startswith(cls.lower()) and len(last) > len(cls):
        return f"{cls} {last[len(cls):]}"
    if last.isdigit():  # a block inside a stage: say where it sits
        return f"{qualname}\n{cls}"
    return cls


def _composite_label(mod: nn.Module, qualname: str) -> str:
    """A multi-path leaf module by its class, its name's suffix and its children ("DenseBlock 1\n6 × DenseLayer")."""
    text = _nice_module_name(mod, qualname)
    kids = list(mod.children())
    if len(kids) > 1 and len({type(k) for k in kids}) == 1:
        text += f"\n{len(kids)} × {type(kids[0]).__name__}"
    return text


def _chain_label(mod: nn.Module) -> str | None:
    """The label of a small module that is one conv/linear plus norms/activations ("Conv 7x7/2, 64\n-BN-ReLU")."""
    if sum(1 for m in mod.modules() if next(m.children(), None) is None) > 4:
        return None  # too big to be one conv-BN-ReLU: skip tracing it (a dense block has hundreds of layers)
    try:
        gm = _Tracer(None).trace(mod)
    except Exception:
        return None
    mods = dict(mod.named_modules())
    labels: list[tuple[str, str]] = []  # (role, text)
    for n in gm.nodes:
        if n.op in ("placeholder", "output", "get_attr"):
            continue
        if n.op == "call_module":
            m = mods[n.target]
            if isinstance(m, (nn.Identity, nn.Flatten)):
                continue
            role = "w" if isinstance(m, (nn.Conv2d, nn.Linear)) else "n" if isinstance(m, _NORMS + _ACTS) else "x"
            labels.append((role, layer_label(m)))
        elif n.op == "call_function" and _function_label(n) in ("ReLU", "Tanh", "Sigmoid", "GELU"):
            labels.append(("n", _function_label(n)))
        else:
            return None
        if len([u for u in n.users if u.op != "output"]) > 1:
            return None
    roles = [r for r, _ in labels]
    if roles.count("w") != 1 or "x" in roles:
        return None
    return _join_run(labels)


def _join_run(labels: list[tuple[str, str]]) -> str:
    """Join a run like [(n, BN), (n, ReLU), (w, Conv 1x1, 128)] as "BN-ReLU-\\nConv 1x1, 128"."""
    i = next(i for i, (r, _) in enumerate(labels) if r == "w")
    before = "-".join(t for _, t in labels[:i])
    after = "-".join(t for _, t in labels[i + 1:])
    text = labels[i][1]
    if before:
        text = f"{before}-\n{text}"
    if after:
        text = f"{text}\n-{after}"
    return text


def _build(module: nn.Module, input_shape: tuple[int, ...], depth: int | None) -> _Parts:
    gm = _trace(module, depth)
    shapes = _meta_shapes(gm, type(module).__name__, input_shape)
    mods = dict(gm.named_modules())
    nodes: dict[str, DiagramNode] = {}
    alias: dict[str, str] = {}  # folded fx node -> the diagram node that stands for it
    edges: list[tuple[str, str]] = []

    def tensor_inputs(n: fx.Node) -> list[str]:
        seen: list[str] = []
        for a in n.all_input_nodes:
            src = alias.get(a.name)
            if src is not None and src not in seen:
                seen.append(src)
        return seen

    for n in gm.graph.nodes:
        if n.op == "placeholder":
            nodes[n.name] = DiagramNode(n.name, "Input", "input", input_shape, target="input")
            alias[n.name] = n.name
            continue
        if n.op in ("output", "get_attr") or shapes.get(n.name) is None:
            continue  # size(), getattr, input checks: nothing a reader needs to see
        srcs = tensor_inputs(n)
        mod = mods.get(n.target) if n.op == "call_module" else None
        if _is_reshape(n, mod) and len(srcs) == 1:
            src = srcs[0]
            # Fold it into its source when the source feeds nothing else, so its box shows the new shape.
            source_fx = next(a for a in n.all_input_nodes if alias.get(a.name) == src)
            if len(source_fx.users) == 1 and nodes[src].kind != "input":
                nodes[src].shape = shapes[n.name]
                nodes[src].members += (n.name,)
                alias[n.name] = src
                continue
            if isinstance(mod, nn.Identity) or shapes[n.name] == nodes[src].shape:
                alias[n.name] = src
                continue
        kind, groups, channelwise = "layer", 1, False
        if n.op == "call_module":
            target = str(n.target)
            if isinstance(mod, nn.Conv2d):
                groups = mod.groups
            if mod is not None and (mod.__module__.startswith("torch.nn") or type(mod).__name__ in (
                    "ZeroPadShortcut", "PartialConv2d", "Subsampling", "RBFOutput", "ScaledTanh")):
                label = layer_label(mod)
                channelwise = isinstance(mod, _ACTS + (nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d,
                                                       nn.AdaptiveAvgPool2d, nn.Dropout, nn.LocalResponseNorm))
                channelwise = channelwise or type(mod).__name__ in ("ScaledTanh", "Subsampling")
            else:
                chain = _chain_label(mod)
                label = chain if chain is not None else _composite_label(mod, target)
                kind = "layer" if chain is not None else "module"
        else:
            fn = n.target
            target = fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))
            if fn in _ADD or (n.op == "call_method" and fn in ("add", "add_")):
                kind, label = "add", "+"
            elif fn in _MUL or (n.op == "call_method" and fn in ("mul", "mul_")):
                kind, label = "mul", "×"
            elif fn in _CAT:
                kind, label = "concat", "concat"
                if len(srcs) == 1 and shapes[n.name] == nodes[srcs[0]].shape:  # cat of one tensor: nothing
                    alias[n.name] = srcs[0]
                    continue
            else:
                kind, label = "op", _function_label(n)
                channelwise = target in _CHANNELWISE_FUNCS
            if kind in ("add", "mul") and len(srcs) < 2:
                kind = "op"
        nodes[n.name] = DiagramNode(n.name, label, kind, shapes[n.name], target=target, members=(n.name,),
                                    groups=groups, channelwise=channelwise)
        alias[n.name] = n.name
        edges.extend((s, n.name) for s in srcs)
    return list(nodes.values()), edges


# ----------------------------------------------------------------------------------------------------------
# Collapsing conv-BN-ReLU runs, grouping repeats, splitting grouped convolutions into towers


def _role(n: DiagramNode) -> str:
    if n.kind != "layer" and not (n.kind == "op" and n.label in ("ReLU", "Tanh", "Sigmoid", "GELU")):
        return "x"
    if n.label.startswith(("Conv", "Linear")):
        return "w"
    if n.label in ("BN", "LayerNorm", "ReLU", "Tanh", "Sigmoid", "GELU", "ScaledTanh", "ReLU6", "SiLU",
                   "LeakyReLU", "ELU", "Hardswish", "PReLU") or n.label.startswith("GroupNorm"):
        return "n"
    return "x"


def _adjacency(edges: _Edges) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Successors and predecessors of every node id."""
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    return succ, pred


def _collapse(nodes: list[DiagramNode], edges: _Edges) -> _Parts:
    succ, pred = _adjacency(edges)
    by_id = {n.id: n for n in nodes}
    group_of: dict[str, str] = {}
    runs: list[list[DiagramNode]] = []
    for n in nodes:
        if n.id in group_of or _role(n) == "x":
            continue
        # Start a run only at a node whose predecessor cannot extend it.
        run = [n]
        cur = n
        while len(succ[cur.id]) == 1:
            nxt = by_id[succ[cur.id][0]]
            if len(pred[nxt.id]) != 1 or _role(nxt) == "x":
                break
            run.append(nxt)
            cur = nxt
        # Split the run into groups: post-activation (w n*) when it starts with a weight, else pre (n* w).
        pieces: list[list[DiagramNode]] = []
        pre = _role(run[0]) == "n"
        piece: list[DiagramNode] = []
        for m in run:
            r = _role(m)
            if pre:
                piece.append(m)
                if r == "w":
                    pieces.append(piece)
                    piece = []
            else:
                if r == "w" and piece:
                    pieces.append(piece)
                    piece = []
                piece.append(m)
        if piece:
            pieces.append(piece)
        for p in pieces:
            for m in p:
                group_of[m.id] = p[0].id
            runs.append(p)
    rep: dict[str, DiagramNode] = {}
    for p in runs:
        if len(p) == 1:
            rep[p[0].id] = p[0]
            continue
        roles = [(_role(m), m.label) for m in p]
        label = _join_run(roles) if any(r == "w" for r, _ in roles) else "-".join(t for _, t in roles)
        rep[p[0].id] = DiagramNode(
            p[0].id, label, "layer", p[-1].shape, target=", ".join(m.target for m in p),
            members=tuple(x for m in p for x in m.members), groups=max(m.groups for m in p),
            channelwise=all(m.channelwise or _role(m) == "n" and m.label != "BN" for m in p),
        )
    new_nodes = []
    for n in nodes:
        head = group_of.get(n.id, n.id)
        if head == n.id:
            new_nodes.append(rep.get(n.id, n))
    new_edges: list[tuple[str, str]] = []
    for a, b in edges:
        ga, gb = group_of.get(a, a), group_of.get(b, b)
        if ga != gb and (ga, gb) not in new_edges:
            new_edges.append((ga, gb))
    return new_nodes, new_edges


def _group_repeats(nodes: list[DiagramNode], edges: _Edges, root: nn.Module) -> _Parts:
    """In a chain, merge consecutive module boxes of one class under one container into "Class ×n"."""
    if not _is_chain(nodes, edges):
        return nodes, edges
    out: list[DiagramNode] = []
    info: list[tuple[type | None, str | None, int]] = []  # (class, parent container, count) per output node
    for n in nodes:
        cls = type(root.get_submodule(n.target)) if n.kind == "module" else None
        parent = n.target.rsplit(".", 1)[0] if cls is not None and "." in n.target else None
        if out and cls is not None and parent is not None and info[-1][:2] == (cls, parent):
            count = info[-1][2] + 1
            first = out[-1]
            out[-1] = DiagramNode(first.id, f"{parent}\n{cls.__name__} ×{count}", "module", n.shape,
                                  target=f"{parent}.*", members=first.members + n.members)
            info[-1] = (cls, parent, count)
            continue
        out.append(n)
        info.append((cls, parent, 1))
    ids = [n.id for n in out]
    return out, list(zip(ids, ids[1:]))


def _is_chain(nodes: list[DiagramNode], edges: _Edges) -> bool:
    ids = [n.id for n in nodes]
    return sorted(edges) == sorted(zip(ids, ids[1:]))


def _split_groups(nodes: list[DiagramNode], edges: _Edges) -> _Parts:
    """Draw each grouped conv as ``groups`` parallel towers (AlexNet's two GPUs), until a layer mixes them."""
    pred: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        pred[b].append(a)
    towers: dict[str, list[str]] = {}  # node id -> ids of its tower copies
    new_nodes: list[DiagramNode] = []
    new_edges: list[tuple[str, str]] = []
    for n in nodes:
        srcs = pred[n.id]
        split_srcs = [s for s in srcs if s in towers]
        g = 0
        if n.groups > 1 and n.shape is not None:
            g = n.groups
        elif n.channelwise and len(srcs) == 1 and srcs[0] in towers and n.shape is not None and len(n.shape) == 3:
            g = len(towers[srcs[0]])
        if g:
            copies = []
            for i in range(g):
                shape = (n.shape[0] // g, *n.shape[1:])
                label = n.label
                if n.groups > 1:
                    label = label.replace(f", g={n.groups}", "").replace(
                        f", {n.shape[0]}", f", {n.shape[0] // g}", 1)
                copy = DiagramNode(f"{n.id}__{i}", label, n.kind, shape, target=n.target, members=n.members,
                                   groups=1, channelwise=n.channelwise)
                copies.append(copy.id)
                new_nodes.append(copy)
            towers[n.id] = copies
            for s in srcs:
                if s in towers and len(towers[s]) == g:
                    new_edges.extend(zip(towers[s], copies))
                elif s in towers:
                    new_edges.extend((a, b) for a in towers[s] for b in copies)
                else:
                    new_edges.extend((s, c) for c in copies)
            continue
        new_nodes.append(n)
        for s in srcs:
            if s in split_srcs:
                new_edges.extend((c, n.id) for c in towers[s])
            else:
                new_edges.append((s, n.id))
    return new_nodes, new_edges


# ----------------------------------------------------------------------------------------------------------
# Layout


BOX_W, BOX_H = 0.86, 0.72  # in layout units (columns, rows)


def _layout_vertical(nodes: list[DiagramNode], edges: _Edges) -> None:
    succ, pred = _adjacency(edges)
    layer: dict[str, int] = {}
    for n in nodes:  # nodes are in topological order
        layer[n.id] = 1 + max((layer[p] for p in pred[n.id]), default=-1)
    index = {n.id: i for i, n in enumerate(nodes)}
    height: dict[str, int] = {}
    for n in reversed(nodes):
        height[n.id] = 1 + max((height[c] for c in succ[n.id]), default=-1)
    kind = {n.id: n.kind for n in nodes}
    x: dict[str, float] = {}
    by_layer: dict[int, list[DiagramNode]] = defaultdict(list)
    for n in nodes:
        by_layer[layer[n.id]].append(n)
    for depth in sorted(by_layer):
        members = by_layer[depth]
        want: dict[str, float] = {}
        for n in members:
            ps = pred[n.id]
            if not ps:
                want[n.id] = 0.0
                continue
            if len(ps) == 1:
                p = ps[0]
                kids = [c for c in succ[p]]
                # Children of a fork spread around it, in the order the code creates them.
                # A two-way fork (a block and its shortcut) puts the longer path first, on the left.
                two = len(kids) == 2
                kids.sort(key=lambda c: (layer[c] != layer[p] + 1, -height[c] if two else 0, index[c]))
                near = [c for c in kids if layer[c] == layer[p] + 1]
                if len(kids) > 1 and n.id in near:
                    spread = len(kids) if len(near) < len(kids) and len(near) > 1 else len(near)
                    i = near.index(n.id)
                    want[n.id] = x[p] + (i - (spread - 1) / 2) if spread > 1 else x[p]
                else:
                    want[n.id] = x[p]
            elif kind[n.id] in ("add", "mul"):  # a merge sits under its main (longest) path
                want[n.id] = x[max(ps, key=lambda p: (layer[p], -index[p]))]
            else:
                want[n.id] = sum(x[p] for p in ps) / len(ps)
        order = sorted(members, key=lambda n: (want[n.id], index[n.id]))
        placed: list[float] = []
        for n in order:
            pos = want[n.id]
            if placed and pos < placed[-1] + 1.0:
                pos = placed[-1] + 1.0
            placed.append(pos)
        # Re-centre the layer on its wishes so pushed-apart rows stay balanced.
        shift = (sum(want[n.id] for n in order) - sum(placed)) / len(order)
        for n, pos in zip(order, placed):
            x[n.id] = pos + shift
    for n in nodes:
        n.x, n.y = x[n.id], float(layer[n.id])


def _layout_rows(nodes: list[DiagramNode], per_row: int) -> None:
    for i, n in enumerate(nodes):
        n.x, n.y = float(i % per_row), float(i // per_row)


# ----------------------------------------------------------------------------------------------------------
# Public: graphs


def _check_depth(depth: object, allow_none: bool) -> None:
    if depth is None and allow_none:
        return
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1{' or None' if allow_none else ''}, got {depth!r}")


def block_graph(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    collapse: bool = False,
    depth: int | None = None,
    split_groups: bool = False,
) -> DiagramGraph:
    """The laid-out graph that :func:`draw_block` draws, as plain data (nodes, edges, positions).

    ``input_shape`` excludes the batch dimension, e.g. ``(64, 56, 56)``. ``depth=None`` draws every layer;
    ``depth=1`` keeps the block's own children (e.g. a dense block's DenseLayers) as single boxes.
    """
    module = _check_module(module, "block_graph")
    shape = _check_shape(module, input_shape)
    _check_depth(depth, allow_none=True)
    nodes, edges = _build(module, shape, depth)
    if collapse:
        nodes, edges = _collapse(nodes, edges)
    if split_groups:
        nodes, edges = _split_groups(nodes, edges)
    _layout_vertical(nodes, edges)
    return DiagramGraph(nodes, edges, "vertical", {"name": type(module).__name__})


def network_graph(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    depth: int = 1,
    collapse: bool = True,
    group_repeats: bool = True,
    per_row: int | None = None,
    width: float = 10.0,
) -> DiagramGraph:
    """The laid-out graph that :func:`draw_network` draws: the model's children (to ``depth``) as a chain.

    Containers (``nn.Sequential``) are looked through; repeated blocks of one stage become "Block ×n" when
    ``group_repeats``. A chain wraps into rows of ``per_row`` boxes (default: as many as fit ``width`` inches).
    A model whose children do not form a chain is laid out top to bottom as in :func:`block_graph`.
    """
    model = _check_module(model, "network_graph")
    shape = _check_shape(model, input_shape)
    _check_depth(depth, allow_none=False)
    if per_row is not None and (isinstance(per_row, bool) or not isinstance(per_row, int) or per_row < 1):
        raise ValueError(f"per_row must be an integer >= 1 or None, got {per_row!r}")
    if not width > 0:
        raise ValueError(f"width must be > 0 inches, got {width!r}")
    nodes, edges = _build(model, shape, depth)
    if collapse:
        nodes, edges = _collapse(nodes, edges)
    if group_repeats:
        nodes, edges = _group_repeats(nodes, edges, model)
    if not _is_chain(nodes, edges):
        _layout_vertical(nodes, edges)
        return DiagramGraph(nodes, edges, "vertical", {"name": type(model).__name__})
    if per_row is None:
        per_row = max(1, int((width - 0.3) // (NET_BOX_W + NET_GAP)))
    _layout_rows(nodes, per_row)
    return DiagramGraph(nodes, edges, "rows", {"name": type(model).__name__, "per_row": per_row})


# ----------------------------------------------------------------------------------------------------------
# Drawing

COL_IN, ROW_IN = 1.75, 0.62  # inches per layout unit in block diagrams
NET_BOX_W, NET_GAP, NET_BOX_H, NET_ROW_GAP = 1.2, 0.22, 0.72, 0.42  # inches, network rows
FONT = 8

_FILL = {"input": "#e8e8e8", "layer": "#dbe9f6", "module": "#fde7c8", "op": "#eeeeee"}
_FILL_BY_LABEL = (("Conv", "#cfe2f3"), ("BN", "#e2f0d9"), ("ReLU", "#fff2cc"), ("MaxPool", "#f4cccc"),
                  ("AvgPool", "#f4cccc"), ("GlobalAvgPool", "#f4cccc"), ("Linear", "#d9d2e9"))


def _fill(n: DiagramNode) -> str:
    if n.kind == "layer":  # coloured by its main layer: a collapsed "BN-ReLU-\nConv ..." is a conv
        for prefix, colour in _FILL_BY_LABEL:
            if any(line.startswith(prefix) for line in n.label.split("\n")):
                return colour
    return _FILL.get(n.kind, "#eeeeee")


def _draw_box(ax: Axes, n: DiagramNode, cx: float, cy: float, w: float, h: float, fontsize: float) -> None:
    ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                fc=_fill(n), ec="#555555", lw=0.8, mutation_aspect=h / w if w else 1))
    label = n.label if n.kind != "input" else "Input"
    lines = label.count("\n") + 1
    shape = n.shape_text
    if shape:
        ax.text(cx, cy + h * 0.12, label, ha="center", va="center", fontsize=fontsize, linespacing=1.1)
        ax.text(cx, cy - h / 2 + h * (0.14 if lines < 3 else 0.1), shape, ha="center", va="center",
                fontsize=fontsize - 1, color="#444444", family="monospace")
    else:
        ax.text(cx, cy, label, ha="center", va="center", fontsize=fontsize, linespacing=1.1)


def _arrow(ax: Axes, points: list[tuple[float, float]], head: bool = True) -> None:
    if len(points) > 2:
        xs, ys = zip(*points[:-1])
        ax.plot(xs, ys, color="#333333", lw=0.9, solid_capstyle="round")
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>" if head else "-", mutation_scale=8,
                                 color="#333333", lw=0.9, shrinkA=0, shrinkB=0))


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is None:
        fig = plt.figure(figsize=size)
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.set_axis_off()
    return fig, ax


def _half(n: DiagramNode) -> tuple[float, float]:
    """Half width and half height of a node in layout units."""
    if n.kind in ("add", "mul"):
        return 0.2 * ROW_IN / COL_IN + 0.02, 0.22
    if n.kind == "concat":
        return 0.28, 0.2
    return BOX_W / 2, BOX_H / 2


def _render_vertical(graph: DiagramGraph, ax: Axes | None, title: str | None) -> Figure:
    nodes = graph.nodes
    by_id = {n.id: n for n in nodes}
    max_y = max(n.y for n in nodes)

    def blocked(a: DiagramNode, b: DiagramNode) -> bool:  # does the straight line a -> b cross a box?
        for n in nodes:
            if n is a or n is b or not a.y < n.y < b.y:
                continue
            xline = a.x + (n.y - a.y) / (b.y - a.y) * (b.x - a.x)
            if abs(xline - n.x) < _half(n)[0] + 0.05:
                return True
        return False

    def column_free(a: DiagramNode, b: DiagramNode) -> bool:  # can a go straight down to b's row?
        return not any(a.y < n.y < b.y and abs(n.x - a.x) < _half(n)[0] + 0.05 for n in nodes)

    routes: list[tuple[str, list[tuple[float, float]]]] = []
    lanes: dict[str, list[str]] = defaultdict(list)
    sides: dict[str, set[str]] = defaultdict(set)  # sides of a node that an edge enters horizontally
    for a_id, b_id in graph.edges:
        a, b = by_id[a_id], by_id[b_id]
        start = (a.x, -a.y - _half(a)[1])
        if b.y - a.y <= 1 or not blocked(a, b):
            routes.append(("edge", [start, (b.x, -b.y + _half(b)[1])]))
        elif column_free(a, b) and abs(a.x - b.x) > _half(b)[0]:
            side = _half(b)[0] if a.x > b.x else -_half(b)[0]
            sides[b_id].add("right" if a.x > b.x else "left")
            routes.append(("edge", [start, (a.x, -b.y), (b.x + side, -b.y)]))
        else:
            lanes[a_id].append(b_id)
    # Skips that a straight line cannot take run in lanes on the right, one per source; later sources get
    # the inner lanes, and each target's entries are staggered so the arrows stay apart.
    right = max(n.x + _half(n)[0] for n in nodes)
    lane_list = sorted(lanes.items(), key=lambda item: -by_id[item[0]].y)
    entries: dict[str, int] = defaultdict(int)
    per_target = defaultdict(int)
    for _, targets in lane_list:
        for t in targets:
            per_target[t] += 1
    used: list[tuple[float, float, int]] = []
    lane_right = right
    for a_id, targets in lane_list:
        a = by_id[a_id]
        y1 = max(by_id[t].y for t in targets)
        k = 0
        while any(not (y1 <= l0 or a.y >= l1) and lk == k for l0, l1, lk in used):
            k += 1
        used.append((a.y, y1, k))
        x = right + 0.16 + 0.13 * k
        lane_right = max(lane_right, x)
        routes.append(("line", [(a.x + _half(a)[0], -a.y), (x, -a.y)]))
        ends = []
        for t in targets:
            b = by_id[t]
            hb = _half(b)[1]
            count = per_target[t]
            i = entries[t]
            entries[t] += 1
            dy = 0.0 if count == 1 else (i - (count - 1) / 2) * min(0.16, 1.5 * hb / count)
            ends.append(-b.y - dy)
            routes.append(("edge", [(x, -b.y - dy), (b.x + _half(b)[0], -b.y - dy)]))
            sides[t].add("right")
        routes.append(("line", [(x, -a.y), (x, min(ends))]))
    entered_right = {t for t, s in sides.items() if "right" in s and "left" not in s}
    left = min(n.x - _half(n)[0] - (0.55 if n.id in entered_right and n.kind in ("add", "mul", "concat") else 0)
               for n in nodes) - 0.1
    right_edge = max(lane_right, max(n.x + _half(n)[0] + (0.55 if n.kind in ("add", "mul", "concat")
                                                           and n.id not in entered_right else 0)
                                     for n in nodes)) + 0.1
    top = 0.5 + (0.45 if title else 0.0)
    size = (max((right_edge - left) * COL_IN, 1.5), (max_y + 0.5 + top) * ROW_IN)
    fig, ax = _new_axes(ax, size)
    for kind, pts in routes:
        if kind == "line":
            xs, ys = zip(*pts)
            ax.plot(xs, ys, color="#333333", lw=0.9)
        else:
            _arrow(ax, pts)
    for n in nodes:
        cx, cy = n.x, -n.y
        rx, ry = _half(n)
        if n.kind in ("add", "mul", "concat"):
            if n.kind == "concat":
                ax.add_patch(FancyBboxPatch((cx - rx, cy - ry), 2 * rx, 2 * ry, zorder=3, fc="white", ec="#333333",
                                            lw=1.0, boxstyle="round,pad=0,rounding_size=0.1",
                                            mutation_aspect=ROW_IN / COL_IN))
                ax.text(cx, cy, "concat", ha="center", va="center", fontsize=FONT, zorder=4)
            else:
                ax.add_patch(Ellipse((cx, cy), 2 * rx, 2 * ry, fc="white", ec="#333333", lw=1.0, zorder=3))
                ax.text(cx, cy, n.label, ha="center", va="center", fontsize=FONT + 3, zorder=4)
            if n.id in entered_right:
                ax.text(cx - rx - 0.04, cy - 0.06, n.shape_text, ha="right", va="top", fontsize=FONT - 1,
                        color="#444444", family="monospace", zorder=4)
            else:
                ax.text(cx + rx + 0.04, cy - 0.06, n.shape_text, ha="left", va="top", fontsize=FONT - 1,
                        color="#444444", family="monospace", zorder=4)
        else:
            _draw_box(ax, n, cx, cy, BOX_W, BOX_H, FONT)
    ax.set_xlim(left, right_edge)
    ax.set_ylim(-(max_y + 0.5), top)
    if title:
        ax.text((left + right_edge) / 2, 0.5 + 0.2, title, ha="center", va="center", fontsize=FONT + 3,
                weight="bold")
    return fig


def _render_rows(graph: DiagramGraph, ax: Axes | None, title: str | None) -> Figure:
    per_row = graph.meta["per_row"]
    nodes = graph.nodes
    rows = int(max(n.y for n in nodes)) + 1
    cols = min(per_row, len(nodes))
    step_x, step_y = NET_BOX_W + NET_GAP, NET_BOX_H + NET_ROW_GAP
    top_pad = 0.45 if title else 0.1
    width = cols * step_x - NET_GAP + 0.2
    height = rows * step_y - NET_ROW_GAP + 0.2 + top_pad
    fig, ax = _new_axes(ax, (width, height))
    # Coordinates in inches, y pointing down from the top.

    def centre(n: DiagramNode) -> tuple[float, float]:
        return 0.1 + n.x * step_x + NET_BOX_W / 2, -(top_pad + n.y * step_y + NET_BOX_H / 2)

    by_id = {n.id: n for n in nodes}
    for a_id, b_id in graph.edges:
        a, b = by_id[a_id], by_id[b_id]
        (ax_, ay), (bx, by) = centre(a), centre(b)
        if a.y == b.y:
            _arrow(ax, [(ax_ + NET_BOX_W / 2, ay), (bx - NET_BOX_W / 2, by)])
        else:  # wrap to the next row: down, left along the gap, down into the first box
            mid = ay - NET_BOX_H / 2 - NET_ROW_GAP / 2
            _arrow(ax, [(ax_, ay - NET_BOX_H / 2), (ax_, mid), (bx, mid), (bx, by + NET_BOX_H / 2)])
    for n in nodes:
        cx, cy = centre(n)
        _draw_box(ax, n, cx, cy, NET_BOX_W, NET_BOX_H, FONT - 0.5)
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    ax.set_aspect("equal")
    if title:
        ax.text(width / 2, -0.22, title, ha="center", va="center", fontsize=FONT + 3, weight="bold")
    return fig


def draw_block(
    module: nn.Module,
    input_shape: Sequence[int],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    collapse: bool = False,
    depth: int | None = None,
    split_groups: bool = False,
) -> Figure:
    """Draw a block top to bottom from the module itself: a box per layer with its output shape.

    Branches stand side by side; ``+`` circles and ``concat`` pills merge them; a shortcut that skips
    layers runs in a lane on the right. ``collapse`` merges conv-BN-ReLU runs into one box; ``depth=1``
    keeps the block's own children as boxes; ``split_groups`` draws grouped convolutions as parallel towers.
    """
    graph = block_graph(module, input_shape, collapse=collapse, depth=depth, split_groups=split_groups)
    return _render_vertical(graph, ax, title)


def draw_network(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    depth: int = 1,
    ax: Axes | None = None,
    title: str | None = None,
    collapse: bool = True,
    group_repeats: bool = True,
    per_row: int | None = None,
    width: float = 10.0,
) -> Figure:
    """Draw a whole network as the chain of its children (to ``depth``), with output shapes, in rows.

    Multi-path children are one labelled box ("Inception 3a", "layer1 / BasicBlock ×2"); rows wrap so the
    figure is at most ``width`` inches wide.
    """
    graph = network_graph(model, input_shape, depth=depth, collapse=collapse, group_repeats=group_repeats,
                          per_row=per_row, width=width)
    if graph.layout == "rows":
        return _render_rows(graph, ax, title)
    return _render_vertical(graph, ax, title)
