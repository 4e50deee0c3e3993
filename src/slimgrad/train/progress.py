"""The one reporting helper that the trainer and the command line share.

:class:`Reporter` shows a progress bar per epoch with the live loss/accuracy and throughput (tqdm, when it
is installed and stderr is a terminal), and one summary line per epoch either way (stdout). ``quiet=True``
silences everything except :meth:`Reporter.result` lines (final results the CLI must show). Nothing else
in slimgrad writes to the terminal.
"""
from __future__ import annotations

import sys
import time

__all__ = ["Reporter", "format_metrics", "get_reporter"]


def format_metrics(values: dict) -> str:
    """``'loss 0.1234  accuracy 97.10%'``: accuracy/top-k/IoU as percentages, other numbers to 4 decimals."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        if key == "samples_per_s":
            parts.append(f"{value:.0f} samples/s")
            continue
        last = key.rsplit("_", 1)[-1]
        if isinstance(value, float) and ("acc" in key or "iou" in key or (last.startswith("top") and last[3:].isdigit())):
            parts.append(f"{key} {100.0 * value:.2f}%")
        elif isinstance(value, float):
            parts.append(f"{key} {value:.4g}" if abs(value) >= 1e4 or (value and abs(value) < 1e-3)
                         else f"{key} {value:.4f}")
        else:
            parts.append(f"{key} {value}")
    return "  ".join(parts)


class Reporter:
    """Summary and result lines on ``stream`` (default ``sys.stdout``), progress bars on ``bar_stream``
    (default ``sys.stderr``).

    ``bar``: ``None`` = a tqdm bar when tqdm is installed and ``bar_stream`` is a terminal; ``False`` = never.
    """

    def __init__(self, quiet: bool = False, stream=None, bar: bool | None = None, bar_stream=None):
        self.quiet = quiet
        self.stream = stream
        self.bar_stream = bar_stream
        self._want_bar = bar
        self._bar = None
        self._start = 0.0
        self._samples = 0

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _bar_out(self):
        return self.bar_stream if self.bar_stream is not None else sys.stderr

    def _use_bar(self) -> bool:
        if self.quiet or self._want_bar is False:
            return False
        try:
            import tqdm  # noqa: F401  (optional extra 'progress')
        except ImportError:
            return False
        stream = self._bar_out()
        return bool(self._want_bar) or (hasattr(stream, "isatty") and stream.isatty())

    # ------------------------------------------------------------------ per epoch
    def start_epoch(self, epoch: int, epochs: int, total_batches: int | None = None, initial: int = 0) -> None:
        """Begin the bar for ``epoch`` (1-based) of ``epochs``; ``initial`` batches are already done (resume)."""
        self._start, self._samples = time.perf_counter(), 0
        if self._use_bar():
            from tqdm import tqdm

            self._bar = tqdm(total=total_batches, initial=initial, desc=f"epoch {epoch}/{epochs}",
                             file=self._bar_out(), leave=False, dynamic_ncols=True, unit="batch")

    def update(self, batch_size: int, **values) -> None:
        """One batch done: advance the bar and show the running ``values`` and samples per second."""
        self._samples += batch_size
        if self._bar is not None:
            elapsed = max(time.perf_counter() - self._start, 1e-9)
            self._bar.set_postfix_str(format_metrics(values) + f"  {self._samples / elapsed:.0f} samples/s",
                                      refresh=False)
            self._bar.update(1)

    def end_epoch(self, epoch: int, epochs: int, values: dict) -> None:
        """Close the bar and write one summary line for the epoch."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.line(f"epoch {epoch}/{epochs}  " + format_metrics(values))

    # ------------------------------------------------------------------ free text
    def line(self, text: str) -> None:
        """A progress line (silenced by ``quiet``)."""
        if not self.quiet:
            print(text, file=self._out(), flush=True)

    def result(self, text: str) -> None:
        """A result line, shown even when quiet (to stdout)."""
        print(text, file=self._out(), flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Silent(Reporter):
    def __init__(self):
        super().__init__(quiet=True)

    def result(self, text: str) -> None:
        pass


def get_reporter(progress) -> Reporter:
    """``True`` -> a default :class:`Reporter`; ``False``/``None`` -> a silent one; a Reporter -> itself."""
    if isinstance(progress, Reporter):
        return progress
    return Reporter() if progress else _Silent()
