"""``summary(model, input_shape)``: per-layer shapes, parameters, MACs, FLOPs, backward FLOPs, activation
memory and receptive fields of a real traced forward pass, rendered as a table, Markdown or JSON.

Conventions: 1 MAC (multiply-add) = 2 FLOPs; FLOPs = 2 x MACs + the non-MAC work of each layer (bias,
activation, pooling, normalisation) by the rules in :mod:`slimgrad.analysis.cost`; backward FLOPs count the
gradients a real backward computes (data input: no ``grad_input`` for the first layer; a tensor read by k
operations, like the input of a residual block, receives k gradients: k - 1 adds per element, counted on the
row that produced it); activation bytes are each layer's output. A layer without a rule gets a warning row
and makes the totals *partial*: it is never silently counted as zero.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import Tensor, enable_grad
from ..nn.parameter import Parameter
from .cost import Call, get_rule
from .op_cost import get_op_rule
from .receptive_field import AxisRF, get_op_rf_rule, get_rf_rule, merge_rf
from .trace import Trace

CONVENTIONS = ("1 MAC = 1 multiply-add = 2 FLOPs; FLOPs = 2*MACs + bias/activation/pool/norm work "
               "(rules: slimgrad.analysis.cost); backward FLOPs from the backward formulas; "
               "RF = receptive field size/jump/start in input pixels (h/w)")


@dataclass
class Row:
    """One traced layer call (or glue operation such as a residual add)."""

    name: str
    type: str
    output_shape: tuple
    params_trainable: int = 0
    params_frozen: int = 0
    macs: int = 0
    flops: int = 0
    backward_flops: int = 0
    activation_bytes: int = 0
    rf: tuple | None = None
    aligned: bool = True
    known: bool = True
    kind: str = "layer"
    notes: list = field(default_factory=list)
    measured: dict | None = None

    @property
    def params(self) -> int:
        return self.params_trainable + self.params_frozen

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("name", "type", "kind", "params_trainable", "params_frozen", "macs",
                                            "flops", "backward_flops", "activation_bytes", "known", "aligned",
                                            "notes")}
        d["output_shape"] = list(self.output_shape)
        d["rf"] = None if self.rf is None else {
            axis: dict(zip(("size", "jump", "start"), f.as_tuple())) for axis, f in zip("hw", self.rf)}
        if self.measured is not None:
            d["measured"] = dict(self.measured)
        return d


class Summary:
    """Rows in execution order plus totals; ``str()`` is the table."""

    def __init__(self, rows, totals: dict, input_shape: tuple, model_name: str, mode: str):
        self.rows, self.totals = rows, totals
        self.input_shape, self.model_name, self.mode = input_shape, model_name, mode

    @property
    def partial(self) -> bool:
        return self.totals["partial"]

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"Summary.row: no row named {name!r}; rows are {[r.name for r in self.rows]}")

    def to_dict(self) -> dict:
        return {"model": self.model_name, "input_shape": list(self.input_shape), "mode": self.mode,
                "conventions": CONVENTIONS, "rows": [r.to_dict() for r in self.rows], "totals": dict(self.totals)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_table(self) -> str:
        from .render import render_table

        return render_table(self)

    def to_markdown(self) -> str:
        from .render import render_markdown

        return render_markdown(self)

    def __str__(self) -> str:
        return self.to_table()

    def __repr__(self) -> str:
        t = self.totals
        return (f"Summary({self.model_name}, input={self.input_shape}, rows={len(self.rows)}, params={t['params']},"
                f" macs={t['macs']}, partial={t['partial']})")


def _count_params(module_or_params, counted=None):
    """(trainable, frozen) element counts; with ``counted`` (a set of ids) each parameter counts once."""
    params = module_or_params.parameters() if hasattr(module_or_params, "parameters") else module_or_params
    trainable = frozen = 0
    for p in params:
        if counted is not None:
            if id(p) in counted:
                continue
            counted.add(id(p))
        if p.requires_grad:
            trainable += p.data.size
        else:
            frozen += p.data.size
    return int(trainable), int(frozen)


def _shape(t) -> tuple:
    return tuple(t.shape) if t is not None else ()


def summary(model, input_shape, *, batch_size: int = 1, measure: bool = False, input_requires_grad: bool = False,
            repeats: int = 5, dtype=None) -> Summary:
    """Trace ``model`` on a random batch of shape ``(batch_size, *input_shape)`` and cost every layer.

    ``input_requires_grad``: whether the backward also computes the gradient of the model input (default no,
    like a batch of data). ``measure``: also time each layer's forward and backward (median of ``repeats``)
    and report GFLOP/s and arithmetic intensity (see :mod:`slimgrad.analysis.measure`).
    The model is left as it was: hooks removed, buffers (running statistics) and the global RNG restored.
    """
    input_shape = tuple(int(v) for v in (input_shape if isinstance(input_shape, (tuple, list)) else (input_shape,)))
    if not input_shape or min(input_shape) < 1:
        raise ValueError(f"summary: input_shape must be positive sizes without the batch, e.g. (3, 32, 32); "
                         f"got {input_shape!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"summary: batch_size must be a positive integer, got {batch_size!r}")
    dtype = np.dtype(dtype or backend.get_default_dtype())
    rng_state = backend.get_rng_state()
    buffers = [(m, name, b.data.copy()) for m in model.modules() for name, b in m._buffers.items() if b is not None]
    try:
        data = backend.default_rng().standard_normal((batch_size, *input_shape)).astype(dtype)
        x = Tensor._wrap(data, True)
        try:
            trace = Trace(model, x, input_requires_grad)
        except (ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise type(exc)(f"summary: the forward pass of {type(model).__name__} on an input of shape "
                            f"{tuple(data.shape)} (batch_size, *input_shape) failed: {exc}") from exc
        rows = _build_rows(trace, x)
    finally:
        _restore(buffers, rng_state)
    if measure:
        from .measure import measure_rows

        try:
            with enable_grad():  # time the backward too, even when called under no_grad
                measure_rows(trace, rows, repeats=repeats)
        finally:
            _restore(buffers, rng_state)
    totals = _totals(model, rows)
    mode = "train" if getattr(model, "training", False) else "eval"
    return Summary(rows, totals, (batch_size, *input_shape), type(model).__name__, mode)


def _restore(buffers, rng_state) -> None:
    """Put back running statistics (whether the layer updated them in place or replaced the tensor) and the RNG."""
    for module, name, saved in buffers:
        current = module._buffers.get(name)
        if current is not None:
            current.data = saved.copy()
    backend.set_rng_state(rng_state)


def _build_rows(trace: Trace, x: Tensor) -> list:
    rf_map = {id(x): (AxisRF(), AxisRF())} if x.ndim == 4 else {}
    rows, counted, forks = [], set(), set()
    for node in trace.nodes:
        out = node.output
        needs = tuple(trace.tensor_needs_grad(t) for t in node.inputs)
        make = _module_row if node.module is not None else _op_row
        row, call, rule, out_rf = make(trace, node, needs, rf_map, counted)
        if rule is None:
            row.known = False
            row.notes.insert(0, f"WARNING: no cost rule for {row.type}; not counted (totals are partial)")
        else:
            cost = rule(node.module if node.module is not None else node.function, call)
            row.macs, row.flops, row.backward_flops = int(cost.macs), int(cost.flops), int(cost.backward_flops)
            row.notes.extend(cost.notes)
        uses = trace.consumers.get(id(out), 0) if out is not None else 0
        if uses > 1 and trace.tensor_needs_grad(out) and row.known and id(out) not in forks:
            forks.add(id(out))  # an Identity layer returns its input: count the fork once
            # a tensor read by k operations (a fork, e.g. before a residual block) gets k gradients, summed
            row.backward_flops += (uses - 1) * int(out.data.size)
            row.notes.append(f"output used {uses} times: backward sums {uses} gradients")
        row.activation_bytes = int(out.data.nbytes) if out is not None else 0
        row.rf = out_rf
        if out is not None:
            rf_map[id(out)] = out_rf
        rows.append(row)
    return rows


def _module_row(trace: Trace, node, needs, rf_map, counted):
    """Row, call, cost rule and output receptive field of one layer call."""
    m, out = node.module, node.output
    call = Call(tuple(_shape(t) for t in node.inputs), _shape(out), needs, bool(m.training))
    row = Row(node.name or type(m).__name__, type(m).__name__, _shape(out))
    row.params_trainable, row.params_frozen = _count_params(m, counted)
    if not node.first_call:
        row.notes.append("shared module called again: parameters counted once")
    in_rf = rf_map.get(id(node.inputs[0])) if node.inputs else None
    if node.inputs and len(call.input_shapes[0]) == 4 and id(node.inputs[0]) not in rf_map:
        row.notes.append("input not produced by a traced layer: receptive field unknown")
    rf_rule, out_rf = get_rf_rule(m), None
    if in_rf is not None and rf_rule is not None and out is not None:
        out_rf = rf_rule(m, in_rf, call.input_shapes[0], call.output_shape)
    if len(_shape(out)) == 4 and out_rf is None and in_rf is not None:
        row.notes.append("no receptive-field rule for this layer")
    return row, call, get_rule(m), out_rf


def _op_row(trace: Trace, node, needs, rf_map, counted):
    """Row, call, cost rule and output receptive field of a glue operation (e.g. a residual add)."""
    fn, out = node.function, node.output
    call = Call(tuple(_shape(t) for t in node.inputs), _shape(out), needs, False)
    row = Row(node.name, type(fn).__name__, _shape(out), kind="op")
    own = [t for t in node.inputs if isinstance(t, Parameter)]  # e.g. F.linear(x, self.weight)
    row.params_trainable, row.params_frozen = _count_params(own, counted)
    fields = [f for f in (rf_map.get(id(t)) for t in node.inputs if len(_shape(t)) == 4) if f]
    merged = [merge_rf([f[a] for f in fields]) for a in range(2)]
    out_rf = tuple(m[0] for m in merged) if fields and len(_shape(out)) == 4 else None
    rf_rule = get_op_rf_rule(fn)
    in_rf = rf_map.get(id(node.inputs[0])) if node.inputs else None
    if rf_rule is not None and out_rf is not None and in_rf is not None:  # F.conv2d, F.max_pool2d, ...
        out_rf = rf_rule(fn, in_rf, call.input_shapes[0], call.output_shape)
    if not all(m[1] for m in merged):
        sizes = ", ".join("x".join(str(a.as_tuple()[0]) for a in f) for f in fields)
        row.aligned = False
        row.notes.append(f"paths with different receptive fields meet ({sizes}): the largest is reported")
    row.notes.append("inputs from: " + ", ".join(_producer_name(trace, t) for t in node.inputs))
    return row, call, get_op_rule(fn), out_rf


def _producer_name(trace: Trace, t) -> str:
    if t is trace.input:
        return "input"
    idx = trace.producer.get(id(t))
    if idx is not None:
        c = trace.calls[idx]
        return c.name or type(c.module).__name__
    for g in trace.glue:
        if g.output is t:
            return g.name
    return "constant" if t._ctx is None else "untraced op"


def _totals(model, rows) -> dict:
    trainable, frozen = _count_params(model)
    unknown = [r.name for r in rows if not r.known]
    warnings = [f"no cost rule for {r.type} ({r.name}): totals are partial" for r in rows if not r.known]
    row_params = sum(r.params for r in rows)
    if row_params != trainable + frozen:
        warnings.append(f"{trainable + frozen - row_params} parameters belong to no traced layer")
    totals = {
        "params": trainable + frozen, "params_trainable": trainable, "params_frozen": frozen,
        "macs": sum(r.macs for r in rows), "flops": sum(r.flops for r in rows),
        "backward_flops": sum(r.backward_flops for r in rows),
        "activation_bytes": sum(r.activation_bytes for r in rows),
        "partial": bool(unknown), "unknown_layers": unknown, "warnings": warnings,
        "misaligned_merges": [r.name for r in rows if not r.aligned],
    }
    measured = [r.measured for r in rows if r.measured]
    if measured:
        fwd = sum(m["forward_ms"] for m in measured)
        bwd = sum(m["backward_ms"] or 0.0 for m in measured)
        totals["measured"] = {
            "forward_ms": fwd, "backward_ms": bwd,
            "forward_gflops": totals["flops"] / (fwd * 1e6) if fwd > 0 else None,
            "backward_gflops": totals["backward_flops"] / (bwd * 1e6) if bwd > 0 else None,
        }
    return totals


__all__ = ["Row", "Summary", "summary", "CONVENTIONS"]
