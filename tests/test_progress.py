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
    assert got == [
        "eval: 1/2 items (50%), 1 items/s, ETA 0:00:01, elapsed 0:00:01",
        "eval: 1/2 items (50%), 1 items/s, ETA 0:00:01, elapsed 0:00:01 (done)",
    ]


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
    script = (
        "import io, sys; from sn_lake import progress\n"
        "class T(io.StringIO):\n    def isatty(self): return True\n"
        "print(progress.choose_mode(T()), progress.choose_mode(io.StringIO()))\n"
        "import dagster\nprint(progress.choose_mode(T()))\n"
    )
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


def tiny_task(n: int = 40, seed: int = 0):
    """A real (tiny) classification task (10 separable classes of 3 x 4 x 4 images) and an untrained linear net."""
    import torch

    from sn_lake.evaluate.data import Split

    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = (torch.rand(n, 3, 4, 4, generator=gen) * 0.2 + y.view(-1, 1, 1, 1) / 10).clamp(0, 1)
    fresh = lambda: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, 10))  # noqa: E731
    return Split(x, y), fresh


def test_training_reports_its_batches_only_when_named(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    import torch

    from sn_lake.evaluate import training

    monkeypatch.setenv("SN_LAKE_PROGRESS", "log")
    split, fresh = tiny_task()
    torch.manual_seed(1)
    named = training.train(
        fresh(), split.x, split.y, epochs=3, batch_size=16, progress="tiny run"
    )  # 3 batches an epoch
    torch.manual_seed(1)
    unnamed = training.train(
        fresh(), split.x, split.y, epochs=3, batch_size=16
    )  # as inside the zoo build's own bar: silent
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "tiny run: 9/9 batches (100%)" in lines[0] and lines[0].endswith("(done)"), lines
    assert all(
        torch.equal(a, b) for a, b in zip(named.state_dict().values(), unnamed.state_dict().values(), strict=True)
    )  # reporting changes nothing


def test_stealing_and_reference_models_report_one_run_each(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    import torch

    from sn_lake.evaluate.attacks.membership import LiRAOffline
    from sn_lake.evaluate.attacks.stealing import ModelStealing
    from sn_lake.evaluate.training import train

    cpu = torch.device("cpu")
    split, fresh = tiny_task(80)
    target = train(fresh(), split.x, split.y, epochs=5)
    monkeypatch.setenv("SN_LAKE_PROGRESS", "log")
    ModelStealing((20, 40), epochs=2)(target, fresh, split.take(range(40)), split.take(range(40, 80)), cpu)
    LiRAOffline(n_reference=2, epochs=1, max_per_side=10, n_bootstrap=0)(
        target, fresh, split.take(range(20)), split.take(range(20, 40)), split.take(range(40, 80)), cpu
    )
    lines = capsys.readouterr().err.splitlines()
    expected = [
        "stealing surrogate (budget 20): 2/2 batches",
        "stealing surrogate (budget 40): 2/2 batches",
        "membership reference model 1/2: 1/1 batches",
        "membership reference model 2/2: 1/1 batches",
    ]
    assert [line.split(" ", 2)[2].split(" (100%)")[0] for line in lines] == expected, lines  # after the date and time
    assert all(line.endswith("(done)") for line in lines)
    # in a terminal: one bar per training run, each ended by its own newline, never one drawn inside another
    monkeypatch.setenv("SN_LAKE_PROGRESS", "bar")
    ModelStealing((20, 40), epochs=2)(target, fresh, split.take(range(40)), split.take(range(40, 80)), cpu)
    runs = capsys.readouterr().err.split("\n")
    assert len(runs) == 3 and runs[2] == "", runs
    for run, budget in zip(runs, (20, 40), strict=False):
        assert {draw.split(" [")[0] for draw in run.split("\r")[1:]} == {f"stealing surrogate (budget {budget})"}, run
        assert "2/2 batches (100%)" in run.split("\r")[-1]
