"""Kills and locks: a run killed (SIGKILL) while it holds the ``duckdb_write`` pool slot does not block the next
one, a step waiting for a pool says so and names the holder, SIGTERM and Ctrl-C end a CLI run promptly and mark it
failed, and the catalog writer waits a bounded time for readers.

What holds the slot is real, not a sleep: the test keeps a read-only connection to the warehouse open, so the
catalog step (in the pool) waits for it as ``SN_LAKE_WRITE_WAIT_S`` allows, and says so on stderr.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sn_lake import catalog, config, run_guard, warehouse
from sn_lake.sources.timm_registry import crawl as timm_registry

pytestmark = pytest.mark.slow

SN_LAKE = str(Path(sys.executable).with_name("sn-lake"))
GUARD_S = 240  # a guard against a hang, never what a test measures
CATALOG_RUN = [SN_LAKE, "run", "--select", "key:catalog_models"]


class Lines:
    """A subprocess's merged stdout/stderr, read by a thread, so a test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.seen, self._queue = process, [], queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout_s: float = GUARD_S) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        pytest.fail(f"Expected a line matching {pattern!r} within {timeout_s} s, found:\n" + "".join(self.seen)[-4000:])

    def rest(self, timeout_s: float = GUARD_S) -> str:
        self.process.wait(timeout=timeout_s)
        while (line := self._queue.get(timeout=timeout_s)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def start(*args: str, **env: str) -> Lines:
    return Lines(
        subprocess.Popen(
            list(args),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        )
    )


@pytest.fixture
def lake_and_warehouse(settings):
    timm_registry.crawl(settings)
    con = warehouse.connect(settings)
    catalog.build_models(settings, con)
    con.close()
    return settings


def slot_holders(pool: str = "duckdb_write") -> list[str]:
    with dg.DagsterInstance.get() as instance:
        return [c.run_id for c in instance.event_log_storage.get_concurrency_info(pool).claimed_slots]


def run_of(pid: int):
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(tags={run_guard.PID_TAG: str(pid)}))
        return run


def test_a_run_killed_holding_the_write_slot_blocks_no_later_run(lake_and_warehouse):
    settings = lake_and_warehouse
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)  # what keeps the catalog step waiting
    holder = start(*CATALOG_RUN, SN_LAKE_WRITE_WAIT_S="900")
    killed = False
    try:
        holder.wait_for(r"sn-lake: waiting up to 900 s \(SN_LAKE_WRITE_WAIT_S\) for .*warehouse.duckdb to be free")
        held_by = run_of(holder.process.pid).run_id
        assert slot_holders() == [held_by]

        # A second run's catalog step waits for the pool: it says so within seconds, naming the pool and the holder.
        waiter = start(*CATALOG_RUN)
        started = time.monotonic()
        waiter.wait_for(
            rf"sn-lake: step catalog_models waits for pool duckdb_write \(limit 1\), held by run "
            rf"{held_by} \(step catalog_models, STARTED, sn-lake pid {holder.process.pid} on "
        )
        blocked_after_s = time.monotonic() - started
        # SIGTERM ends it promptly (it cannot run while it waits for the slot) and marks it failed.
        stopped = time.monotonic()
        waiter.process.send_signal(signal.SIGTERM)
        output = waiter.rest()
        assert waiter.process.returncode == 143, output[-3000:]
        assert time.monotonic() - stopped < 30, output[-3000:]
        assert run_of(waiter.process.pid).status == dg.DagsterRunStatus.FAILURE

        holder.process.send_signal(signal.SIGKILL)  # as the OOM killer would
        holder.process.wait(timeout=GUARD_S)
        killed = True
        assert slot_holders() == [held_by]  # Dagster alone would keep this slot taken for good
    finally:
        if not killed:
            holder.process.kill()
            holder.process.wait()
        reader.close()

    after = subprocess.run(CATALOG_RUN, capture_output=True, text=True, timeout=GUARD_S)
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    gone = f"run {held_by} was left running: the sn-lake process that ran it (pid {holder.process.pid}) is gone"
    assert gone in after.stderr, after.stderr[-3000:]
    assert f"gave back the duckdb_write pool slots of run {held_by}" in after.stderr
    assert re.search(r"^run \S+ succeeded", after.stdout, re.MULTILINE)
    assert run_of(holder.process.pid).status == dg.DagsterRunStatus.FAILURE
    assert slot_holders() == []
    assert blocked_after_s < 20  # POOL_POLL_S is 1 s; the rest is a loaded machine's process start


def test_ctrl_c_ends_a_run_whose_step_waits_and_gives_its_slot_back(lake_and_warehouse):
    settings = lake_and_warehouse
    reader = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        run = start(*CATALOG_RUN, SN_LAKE_WRITE_WAIT_S="900")
        run.wait_for(r"sn-lake: waiting up to 900 s")
        stopped = time.monotonic()
        run.process.send_signal(signal.SIGINT)
        output = run.rest()
        assert run.process.returncode == 130, output[-3000:]
        assert time.monotonic() - stopped < 30, output[-3000:]
    finally:
        if run.process.poll() is None:
            run.process.kill()
        reader.close()
    assert "sn-lake: SIGINT received: ending run" in output and "interrupted by SIGINT" in output
    assert re.search(r"^run \S+ FAILED", output, re.MULTILINE), output[-3000:]
    assert run_of(run.process.pid).status == dg.DagsterRunStatus.FAILURE
    assert slot_holders() == []


WRITER = "from sn_lake import config, warehouse; warehouse.connect(config.load()).close(); print('wrote', flush=True)"
READER = (
    "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); print('reading', flush=True); "
    "sys.stdin.readline(); c.close(); print('closed', flush=True)"
)


def test_the_writer_waits_for_a_reader_then_writes(settings):
    warehouse.connect(settings).close()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "reading"
        writer = start(sys.executable, "-c", WRITER, SN_LAKE_WRITE_WAIT_S="300")
        writer.wait_for(
            rf"waiting up to 300 s \(SN_LAKE_WRITE_WAIT_S\) for .*warehouse.duckdb to be free: process "
            rf"{reader.pid} \(.*\) has it open; close that connection"
        )
        reader.stdin.write("done\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "closed"
        writer.wait_for(r"^wrote$", timeout_s=60)
        assert writer.process.wait(timeout=60) == 0
    finally:
        reader.kill()
        reader.wait()


def test_the_writer_gives_up_after_the_configured_wait_with_what_to_do(settings):
    warehouse.connect(settings).close()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "reading"
        started = time.monotonic()
        with pytest.raises(warehouse.WarehouseLocked) as refused:
            warehouse.connect(dataclasses.replace(settings, write_wait_s=1.5))
        waited_s = time.monotonic() - started
    finally:
        reader.kill()
        reader.wait()
    assert 1.5 <= waited_s < 30
    message = str(refused.value)
    assert f"within 2 s: process {reader.pid}" in message and "raise SN_LAKE_WRITE_WAIT_S" in message, message


def test_write_wait_setting_is_read_and_checked(monkeypatch):
    monkeypatch.setenv("SN_LAKE_WRITE_WAIT_S", "7.5")
    assert config.load().write_wait_s == 7.5
    monkeypatch.delenv("SN_LAKE_WRITE_WAIT_S")
    assert config.load().write_wait_s == 120.0
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("SN_LAKE_WRITE_WAIT_S", bad)
        with pytest.raises(ValueError, match=f"SN_LAKE_WRITE_WAIT_S must be a number of seconds .*found '{bad}'"):
            config.load()


def test_process_liveness_tells_a_dead_or_reused_pid_from_a_live_one():
    assert run_guard.is_alive(run_guard.this_process()) is True
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    tags = {**run_guard.this_process(), run_guard.PID_TAG: str(child.pid)}
    tags[run_guard.STARTED_TAG] = run_guard._start_ticks(child.pid)
    assert run_guard.is_alive(tags) is True
    assert run_guard.is_alive({**tags, run_guard.STARTED_TAG: "1"}) is False  # same pid, another process
    child.kill()
    child.wait()
    assert run_guard.is_alive(tags) is False
    assert run_guard.is_alive({**tags, run_guard.HOST_TAG: "elsewhere"}) is None  # nothing here can tell
    assert run_guard.is_alive({}) is None
