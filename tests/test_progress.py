"""sn_lake.progress: bars in a terminal, periodic plain lines elsewhere, the choice and the ETA."""

import io
import subprocess
import sys

import pytest

from sn_lake import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_describe_rate_and_eta():
    assert progress.describe("crawl", 250, 1000, "models", 50.0) == (
        "crawl: 250/1000 models (25%), 5 models/s, ETA 0:02:30, elapsed 0:00:50"
    )
    # unknown total: count and rate, no share, no ETA
    assert progress.describe("listing", 30, None, "pages", 10.0) == "listing: 30 pages, 3 pages/s, elapsed 0:00:10"
    # finished: no ETA
    assert "ETA" not in progress.describe("x", 10, 10, "items", 2.0)


def test_log_mode_writes_a_line_per_interval_and_one_at_the_end():
    stream, clock = io.StringIO(), FakeClock()
    with progress.Progress("zoo", total=4, unit="models", stream=stream, mode="log", interval_s=10, clock=clock) as p:
        p.update()  # 0 s after the start: too soon
        clock.now += 10
        p.update()  # 10 s: one line
        clock.now += 5
        p.update()  # 5 s after the last line: quiet
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("zoo: 2/4 models (50%), 0.2 models/s, ETA 0:00:10, elapsed 0:00:10")
    assert lines[1].endswith("zoo: 3/4 models (75%), 0.2 models/s, ETA 0:00:05, elapsed 0:00:15 (done)")
    assert "\r" not in stream.getvalue()


def test_log_callable_receives_the_lines():
    got, clock = [], FakeClock()
    p = progress.Progress("eval", total=2, log=got.append, interval_s=0, clock=clock, mode="log")
    clock.now += 1
    p.update()
    p.close()
    p.close()  # closing twice reports once
    assert got == ["eval: 1/2 items (50%), 1 items/s, ETA 0:00:01, elapsed 0:00:01",
                   "eval: 1/2 items (50%), 1 items/s, ETA 0:00:01, elapsed 0:00:01 (done)"]


def test_bar_mode_redraws_one_line():
    stream, clock = Terminal(), FakeClock()
    with progress.Progress("crawl", total=4, unit="pages", stream=stream, mode="bar", clock=clock) as p:
        for _ in range(2):
            clock.now += 1
            p.update()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "crawl [############------------] 2/4 pages (50%), 1 pages/s, ETA 0:00:02" in text


def test_mode_choice(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("SN_LAKE_PROGRESS", raising=False)
    # this test process has imported dagster (through other tests) or not: decide in a clean interpreter
    script = ("import io, sys; from sn_lake import progress\n"
              "class T(io.StringIO):\n    def isatty(self): return True\n"
              "print(progress.choose_mode(T()), progress.choose_mode(io.StringIO()))\n"
              "import dagster\nprint(progress.choose_mode(T()))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["bar", "log", "log"]  # a terminal gets a bar; a pipe or a Dagster run gets log lines
    monkeypatch.setenv("SN_LAKE_PROGRESS", "off")
    assert progress.choose_mode(Terminal()) == "off"
    monkeypatch.setenv("SN_LAKE_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="SN_LAKE_PROGRESS must be one of bar, log, off, found 'fancy'"):
        progress.choose_mode(Terminal())


def test_resumed_work_counts_only_new_units_in_the_rate():
    clock = FakeClock()
    p = progress.Progress("cards", total=100, unit="cards", initial=40, stream=io.StringIO(), mode="log", clock=clock)
    clock.now += 10
    p.update(20)
    assert p.line() == "cards: 60/100 cards (60%), 2 cards/s, ETA 0:00:20, elapsed 0:00:10"


def test_off_mode_is_silent_and_track_counts():
    stream = io.StringIO()
    items = list(progress.track(range(5), "quiet", stream=stream, mode="off"))
    assert items == [0, 1, 2, 3, 4] and stream.getvalue() == ""
    stream = io.StringIO()
    assert list(progress.track(iter("ab"), "letters", stream=stream, mode="log")) == ["a", "b"]
    assert "letters: 2 items" in stream.getvalue()
