"""Per-epoch training history, written as CSV and JSON."""
from __future__ import annotations

import csv
import io
import json
import math
import os

__all__ = ["History"]


class History:
    """One row (a dict: ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``lr``, ``time``...) per epoch.

    ``history.history`` gives the same data as ``{column: [value per epoch]}`` (Keras' shape).
    """

    def __init__(self, rows=None):
        self.rows: list[dict] = [dict(r) for r in rows or ()]

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        """``history[i]`` is row ``i``; ``history['loss']`` the column over epochs."""
        if isinstance(key, str):
            return self.history[key]
        return self.rows[key]

    @property
    def columns(self) -> list:
        cols = []
        for row in self.rows:
            cols.extend(k for k in row if k not in cols)
        return cols

    @property
    def history(self) -> dict:
        return {c: [row.get(c) for row in self.rows] for c in self.columns}

    def state_dict(self) -> dict:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict) -> None:
        self.rows = [dict(r) for r in state["rows"]]

    # ------------------------------------------------------------------ files
    def to_json(self, path=None) -> str:
        """The rows as a JSON list (NaN/Inf become null, so the file is strict JSON); written if ``path``."""
        clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                 for r in self.rows]
        text = json.dumps(clean, indent=1)
        if path is not None:
            _write(path, text)
        return text

    def to_csv(self, path=None) -> str:
        """The rows as CSV with a header line (missing values empty); written if ``path``."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
        text = buf.getvalue()
        if path is not None:
            _write(path, text)
        return text

    @classmethod
    def from_json(cls, path) -> "History":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @classmethod
    def from_csv(cls, path) -> "History":
        with open(path, newline="", encoding="utf-8") as f:
            rows = []
            for raw in csv.DictReader(f):
                rows.append({k: _number(v) for k, v in raw.items() if v != ""})
            return cls(rows)

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns})"


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _write(path, text: str) -> None:
    directory = os.path.dirname(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
