"""Trace one real forward pass: which layers ran, in what order, on which tensors, and the glue between them.

A recording wrapper around ``forward`` of the *atomic* modules (those with a cost rule, or without children:
a rule-less leaf is one row flagged as unknown) records every call with its input tensors (positional or
keyword) and output. The input requires grad during the trace so that every operation is recorded
in the autograd graph; walking that graph (``tensor._ctx.parents``) back from each call's output, stopping
at the call's inputs, marks the tensors computed inside the call. What the model's output depends on and no
call owns is *glue*: operations in a container's ``forward`` such as a residual ``x + f(x)``, attributed to
the innermost container whose call computed them. Which gradients a real backward would compute (the
model input is data and needs none unless asked) is then derived from the graph, not from the trace's
own ``requires_grad`` flags.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..autograd import Tensor, _topological_order, enable_grad
from ..nn.parameter import Parameter
from .cost import get_rule


@dataclass
class Node:
    """One traced call: a module call (``module`` set) or a glue operation (``function`` set)."""

    name: str
    inputs: list
    output: Tensor
    module: object = None
    function: object = None
    index: int = 0
    after: int = -1
    topo: int = 0
    first_call: bool = True
    extra: dict = field(default_factory=dict)


def _tensors(obj) -> list:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


def atomic_modules(model):
    """``(name, module, is_atomic)`` for the module tree, not descending into atomic modules (those with a
    cost rule, and leaves: a leaf without a rule is one row flagged as unknown, never traced into)."""
    out, stack, seen = [], [("", model)], set()
    while stack:
        name, m = stack.pop()
        if id(m) in seen:  # a module registered twice is hooked once, under its first name
            continue
        seen.add(id(m))
        kids = list(m.named_children())
        atomic = get_rule(m) is not None or not kids
        out.append((name, m, atomic))
        if not atomic:
            stack.extend(reversed([(f"{name}.{n}" if name else n, c) for n, c in kids]))
    return out


_NO_FORWARD = object()


def _wrap_forward(module, name, record):
    """Shadow ``module.forward`` with a recording wrapper; unlike a forward hook it sees keyword arguments
    too (``self.conv(input=x)``), so a layer's inputs are known however it is called."""
    saved = module.__dict__.get("forward", _NO_FORWARD)
    inner = module.forward

    def forward(*args, **kwargs):
        output = inner(*args, **kwargs)
        record(name, module, (args, kwargs), output)
        return output

    object.__setattr__(module, "forward", forward)
    return module, saved


def _unwrap_forward(module, saved) -> None:
    if saved is _NO_FORWARD:
        module.__dict__.pop("forward", None)
    else:
        object.__setattr__(module, "forward", saved)


def _interior(outputs, stop_ids) -> list:
    """Non-leaf tensors reachable back from ``outputs`` without passing through ``stop_ids``."""
    seen, order, stack = set(), [], [t for t in outputs if id(t) not in stop_ids]
    while stack:
        t = stack.pop()
        if id(t) in seen or t._ctx is None:
            continue
        seen.add(id(t))
        order.append(t)
        for p in t._ctx.parents or ():
            if id(p) not in stop_ids and id(p) not in seen:
                stack.append(p)
    return order


class Trace:
    """Module calls and glue operations of one forward pass, in execution order (``nodes``)."""

    def __init__(self, model, x: Tensor, input_requires_grad: bool = False):
        self.model, self.input = model, x
        calls, containers, wrapped = [], [], []
        seen_modules = set()

        def atomic_record(name, module, inputs, output):
            first = id(module) not in seen_modules
            seen_modules.add(id(module))
            calls.append(Node(name, _tensors(inputs), output, module=module, index=len(calls), first_call=first))

        def container_record(name, module, inputs, output):
            containers.append((name, _tensors(inputs), _tensors(output)))

        try:
            for name, m, atomic in atomic_modules(model):
                wrapped.append(_wrap_forward(m, name, atomic_record if atomic else container_record))
            with enable_grad():  # a trace needs the graph, even when summary() is called under no_grad
                out = model(x)
        finally:
            for m, saved in reversed(wrapped):
                _unwrap_forward(m, saved)
        self.output = out
        self.outputs = _tensors(out)
        for c in calls:
            c.output = (_tensors(c.output) or [None])[0]
        self.calls = calls
        self._attribute(calls, containers)
        self._needs_grad(input_requires_grad)
        # how many recorded operations read each tensor: a backward sums that many gradients into it
        self.consumers = {}
        for t in _topological_order(self.outputs, grad_only=False):
            for p in (t._ctx.parents or ()) if t._ctx is not None else ():
                self.consumers[id(p)] = self.consumers.get(id(p), 0) + 1

    # ------------------------------------------------------------------ ownership and glue
    def _attribute(self, calls, containers) -> None:
        owner = {}  # tensor id -> call index
        for c in calls:
            if c.output is None:
                continue
            stop = {id(t) for t in c.inputs}
            for t in _interior([c.output], stop):
                owner.setdefault(id(t), c.index)
        self.owner = owner
        reachable = _interior(self.outputs, {id(self.input)})
        glue = [t for t in reversed(reachable) if id(t) not in owner]
        # order: topological rank among reachable tensors (inputs before outputs)
        topo = {id(t): i for i, t in enumerate(_topological_order(self.outputs, grad_only=False))}
        glue.sort(key=lambda t: topo.get(id(t), 0))
        regions = []
        for name, inputs, outputs in containers:
            ids = {id(t) for t in _interior(outputs, {id(t) for t in inputs})}
            regions.append((name.count(".") + (1 if name else 0), name, ids))
        producer = {id(c.output): c.index for c in calls if c.output is not None}
        after, nodes, used_names = {}, [], {}
        for t in glue:
            parents = list(t._ctx.parents or ())
            a = -1
            for p in parents:
                a = max(a, producer.get(id(p), owner.get(id(p), after.get(id(p), -1))))
            after[id(t)] = a
            inside = [(depth, name) for depth, name, ids in regions if id(t) in ids]
            base = max(inside)[1] if inside else ""
            op = type(t._ctx).__name__.lower()
            name = f"{base}.{op}" if base else op
            k = used_names.get(name, 0)
            used_names[name] = k + 1
            nodes.append(Node(name if k == 0 else f"{name}_{k}", parents, t, function=t._ctx, after=a,
                              topo=topo.get(id(t), 0)))
        self.glue = nodes
        ordered = [((c.index, 0, 0), c) for c in calls] + [((g.after, 1, g.topo), g) for g in nodes]
        self.nodes = [n for _, n in sorted(ordered, key=lambda kv: kv[0])]
        self.producer = producer

    # ------------------------------------------------------------------ which gradients a backward computes
    def _needs_grad(self, input_requires_grad: bool) -> None:
        roots = self.outputs + [c.output for c in self.calls if c.output is not None]
        needs = {}
        for t in _topological_order(roots, grad_only=False):
            if t is self.input:
                needs[id(t)] = input_requires_grad
            elif t._ctx is None:
                needs[id(t)] = bool(t.requires_grad) if isinstance(t, Parameter) else False
            else:
                needs[id(t)] = any(needs.get(id(p), False) for p in t._ctx.parents or ())
        self.needs = needs

    def tensor_needs_grad(self, t) -> bool:
        if t is self.input:
            return self.needs.get(id(t), False)
        if id(t) in self.needs:
            return self.needs[id(t)]
        return isinstance(t, Parameter) and t.requires_grad
