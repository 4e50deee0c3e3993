"""Text renderers for :class:`~slimgrad.analysis.summary.Summary`: an aligned terminal table and Markdown."""
from __future__ import annotations

from fractions import Fraction


def _num(v) -> str:
    return f"{int(v):,}"


def _bytes(n) -> str:
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _frac(v) -> str:
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.4g}"


def _axes(rf, i) -> str:
    if rf is None:
        return "-"
    h, w = _frac(getattr(rf[0], ("size", "jump", "start")[i])), _frac(getattr(rf[1], ("size", "jump", "start")[i]))
    return h if h == w else f"{h}x{w}"


def _shape(s) -> str:
    return "x".join(str(v) for v in s) if s else "-"


def _opt(v, fmt) -> str:
    return "-" if v is None else format(v, fmt)


def _columns(summary):
    measured = any(r.measured for r in summary.rows)
    frozen = summary.totals["params_frozen"] > 0
    cols = ["name", "type", "output", "params"] + (["frozen"] if frozen else []) + [
        "MACs", "FLOPs", "bwd FLOPs", "act mem", "RF", "jump", "start"]
    if measured:
        cols += ["fwd ms", "bwd ms", "fwd GFLOP/s", "bwd GFLOP/s", "FLOP/B"]
    notes, body = [], []
    for r in summary.rows:
        mark = ""
        if r.notes:
            notes.append(f"[{len(notes) + 1}] {r.name}: " + "; ".join(r.notes))
            mark = f" [{len(notes)}]"
        typ = r.type + ("  (!)" if not r.known else "")
        cells = [r.name + mark, typ, _shape(r.output_shape), _num(r.params_trainable)]
        if frozen:
            cells.append(_num(r.params_frozen))
        cells += [_num(r.macs) if r.known else "?", _num(r.flops) if r.known else "?",
                  _num(r.backward_flops) if r.known else "?", _bytes(r.activation_bytes),
                  _axes(r.rf, 0), _axes(r.rf, 1), _axes(r.rf, 2)]
        if measured:
            m = r.measured or {}
            cells += [_opt(m.get("forward_ms"), ".3f"), _opt(m.get("backward_ms"), ".3f"),
                      _opt(m.get("forward_gflops"), ".2f"), _opt(m.get("backward_gflops"), ".2f"),
                      _opt(m.get("intensity"), ".2f")]
        body.append(cells)
    t = summary.totals
    star = " (partial)" if t["partial"] else ""
    total = ["total" + star, "", "", _num(t["params_trainable"])] + ([_num(t["params_frozen"])] if frozen else [])
    total += [_num(t["macs"]), _num(t["flops"]), _num(t["backward_flops"]), _bytes(t["activation_bytes"]),
              "", "", ""]
    if measured:
        m = t.get("measured", {})
        total += [_opt(m.get("forward_ms"), ".3f"), _opt(m.get("backward_ms"), ".3f"),
                  _opt(m.get("forward_gflops"), ".2f"), _opt(m.get("backward_gflops"), ".2f"), ""]
    return cols, body, total, notes


def _header(summary) -> list:
    from .summary import CONVENTIONS

    shape = "x".join(str(v) for v in summary.input_shape)
    lines = [f"{summary.model_name} on input {shape} ({summary.mode} mode)", CONVENTIONS]
    t = summary.totals
    if t["partial"]:
        unknown = ", ".join(f"{r.type} ({r.name})" for r in summary.rows if not r.known)
        lines.append(f"WARNING: totals are PARTIAL: no cost rule for {unknown}")
    for w in t["warnings"]:
        if "partial" not in w:
            lines.append("WARNING: " + w)
    return lines


def render_table(summary) -> str:
    cols, body, total, notes = _columns(summary)
    rows = [cols] + body + [total]
    left = {0, 1, 2}
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(cols))
    out = _header(summary) + [rule, line(cols), rule] + [line(r) for r in body] + [rule, line(total)]
    if notes:
        out += [""] + notes
    return "\n".join(s.rstrip() for s in out)


def render_markdown(summary) -> str:
    cols, body, total, notes = _columns(summary)
    right = ["---" if i < 3 else "--:" for i in range(len(cols))]

    def line(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    out = [f"**{_header(summary)[0]}**", "", *(f"> {h}" for h in _header(summary)[1:]), "",
           line(cols), "|" + "|".join(right) + "|"]
    out += [line(r) for r in body]
    out.append(line([f"**{total[0]}**"] + total[1:]))
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    return "\n".join(out)
