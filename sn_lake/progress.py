"""Progress of long work (crawls, the zoo build, evaluations): a bar with rate and ETA in a terminal,
plain periodic log lines otherwise.

    with progress.Progress("huggingface listing", total=None, unit="models") as bar:
        for page in pages:
            bar.update(len(page))

The bar is drawn on stderr only when stderr is a terminal and Dagster is not driving the work (a
step's output belongs in its logs, where a redrawn line is noise); everywhere else a line such as
``huggingface listing: 450/1000 models (45%), 12.3 models/s, ETA 0:00:45`` is written at most every
``interval_s`` seconds and once at the end, through ``log`` when given (a crawl's logger, a Dagster
step's ``context.log.info``), else on the stream. ``SN_LAKE_PROGRESS=bar|log|off`` overrides the choice.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TextIO, TypeVar

T = TypeVar("T")

MODES = ("bar", "log", "off")
BAR_WIDTH = 24


def choose_mode(stream: TextIO) -> str:
    """``bar`` for a terminal outside Dagster, ``log`` otherwise; ``SN_LAKE_PROGRESS`` wins when set."""
    forced = os.environ.get("SN_LAKE_PROGRESS", "").strip().lower()
    if forced:
        if forced not in MODES:
            raise ValueError(
                f"SN_LAKE_PROGRESS must be one of {', '.join(MODES)}, found {forced!r}: set one of those or unset it."
            )
        return forced
    under_dagster = "dagster" in sys.modules  # a run (in process or in a worker) has imported it; sn_lake never does
    is_terminal = hasattr(stream, "isatty") and stream.isatty()
    return "bar" if is_terminal and not under_dagster else "log"


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def describe(
    desc: str,
    done: int,
    total: int | None,
    unit: str,
    elapsed_s: float,
    initial: int = 0,
    quota_eta_s: float | None = None,
) -> str:
    """One status line: count, share, rate and ETA (the last two once time has passed; ``initial`` units were done
    before).

    ``quota_eta_s`` is the time the rest takes at the pace a server's quota allows (:func:`quota_eta_s`): the ETA is
    the longer of it and the observed rate's, marked "at the quota" when the quota is what decides.
    """
    rate = (done - initial) / elapsed_s if elapsed_s > 0 else None
    parts = [f"{done}/{total} {unit}" if total is not None else f"{done} {unit}"]
    if total:
        parts[0] += f" ({100 * done / total:.0f}%)"
    if rate is not None:
        parts.append(f"{rate:.3g} {unit}/s")
    if total is not None and done < total:
        by_rate = (total - done) / rate if rate else None
        if quota_eta_s is not None and (by_rate is None or quota_eta_s > by_rate):
            parts.append(f"ETA {format_duration(quota_eta_s)} at the quota")
        elif by_rate is not None:
            parts.append(f"ETA {format_duration(by_rate)}")
    parts.append(f"elapsed {format_duration(elapsed_s)}")
    return f"{desc}: " + ", ".join(parts)


def quota_eta_s(
    requests: int,
    remaining: int,
    reset_s: float,
    quota: int | None = None,
    window_s: float | None = None,
    reserve_fraction: float = 0.05,
) -> float:
    """Seconds ``requests`` more requests take when paced as ``sn_lake.http_client.Pacer`` paces them under a
    ``RateLimit`` quota: ``remaining`` (less a reserve) spread over the ``reset_s`` left of this window, then
    ``quota`` (less the reserve) per ``window_s`` (unknown: taken as this window's)."""
    if requests <= 0:
        return 0.0
    reserve = max(1, round((quota or remaining) * reserve_fraction))
    usable = remaining - reserve
    if usable >= requests:
        return requests * reset_s / usable
    per_window = max(1, (quota if quota is not None else remaining) - reserve)
    window = window_s if window_s else max(reset_s, 1.0)
    return reset_s + (requests - max(0, usable)) / per_window * window


class Progress:
    """Counts finished units of one piece of work and reports them (see the module docstring)."""

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        unit: str = "items",
        *,
        initial: int = 0,
        stream: TextIO | None = None,
        log: Callable[[str], None] | None = None,
        interval_s: float = 10.0,
        mode: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        quota_eta: Callable[[int], float | None] | None = None,
    ):
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.mode = mode or choose_mode(self.stream)
        if self.mode not in MODES:
            raise ValueError(f"Progress mode must be one of {', '.join(MODES)}, found {self.mode!r}.")
        self._log = log
        self.interval_s = interval_s
        self._clock = clock
        self.done = self._initial = initial  # units finished before (a resumed crawl); not counted in the rate
        self._started = clock()
        self._last_report = self._started
        self._closed = False
        self._quota_eta = quota_eta  # units left -> seconds the server's quota needs for them (None: unknown yet)

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._started

    def line(self) -> str:
        left = (self.total - self.done) if self.total is not None else 0
        floor = self._quota_eta(left) if self._quota_eta is not None and left > 0 else None
        return describe(self.desc, self.done, self.total, self.unit, self.elapsed_s, self._initial, floor)

    def bar(self) -> str:
        """The terminal bar: ``desc [#####-----] 450/1000 models (45%), 12.3 models/s, ETA ...``."""
        if self.total:
            filled = min(BAR_WIDTH, int(BAR_WIDTH * self.done / self.total))
            meter = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "] "
        else:
            meter = ""
        return f"{self.desc} {meter}" + self.line()[len(self.desc) + 2 :]

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished units and report if it is time to."""
        self.done += n
        now = self._clock()
        if self.mode == "bar":
            self.stream.write("\r" + self.bar() + "\x1b[K")
            self.stream.flush()
        elif self.mode == "log" and now - self._last_report >= self.interval_s:
            self._emit(self.line())
            self._last_report = now

    def close(self) -> None:
        """Report the final count once (a newline ends the bar)."""
        if self._closed:
            return
        self._closed = True
        if self.mode == "bar":
            self.stream.write("\r" + self.bar() + "\x1b[K\n")
            self.stream.flush()
        elif self.mode == "log":
            self._emit(self.line() + " (done)")

    def _emit(self, text: str) -> None:
        if self._log is not None:
            self._log(text)
        else:
            self.stream.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {text}\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "items", **kwargs) -> Iterator[T]:
    """Yield ``items`` while counting them with a :class:`Progress` (total from ``len`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(desc, total=total, unit=unit, **kwargs) as progress:
        for item in items:
            yield item
            progress.update()
