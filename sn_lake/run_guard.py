"""Which process runs what, whether it is still alive, and signals seen while a run executes (no Dagster here).

``sn-lake`` tags each run it executes with :func:`this_process`; a later ``sn-lake`` compares those tags with
:func:`is_alive` to tell a run whose process was killed (SIGKILL, the OOM killer) from one still working, and
gives the dead run's pool slots back. :class:`SignalWatch` lets a helper thread see SIGINT and SIGTERM at
once, even while the main thread is inside a long C call or a library that captures interrupts.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
from pathlib import Path

# Tags sn-lake puts on the runs it executes (contract for recovery: an older sn-lake's runs lack them).
HOST_TAG, PID_TAG, STARTED_TAG = "sn_lake/host", "sn_lake/pid", "sn_lake/pid_started"
PARENT_RUN_TAG = "dagster/parent_run_id"  # the tag Dagster puts on retries and re-executions (a documented name)


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), None off Linux or if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return None if fields[0] in ("Z", "X") else fields[19]


def this_process() -> dict[str, str]:
    """Tags naming this process: host, pid and (on Linux) its start time, so a reused pid is not taken for it."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid()), STARTED_TAG: _start_ticks(os.getpid()) or ""}


def is_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process named by ``tags`` (from :func:`this_process`) still runs: None when the tags do not name
    one or it ran on another host (nothing here can tell), False when it is gone, a zombie or its pid was reused."""
    try:
        pid = int(tags.get(PID_TAG, ""))
    except ValueError:
        return None
    if tags.get(HOST_TAG) != socket.gethostname() or pid <= 0:
        return None
    if Path("/proc/self/stat").exists():
        started = _start_ticks(pid)
        return started is not None and started == (tags.get(STARTED_TAG) or started)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SignalWatch:
    """While entered (in the main thread): SIGTERM raises KeyboardInterrupt like SIGINT, and both are written to
    a pipe the moment they arrive (``signal.set_wakeup_fd``), so :meth:`wait` in another thread returns at once.
    Leave it only after that thread has stopped calling :meth:`wait` (it closes the pipe)."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._closed = threading.Event()

    def __enter__(self) -> SignalWatch:
        # only the main thread may set handlers; elsewhere (a thread of a notebook) the watch sees no signal
        self._installed = threading.current_thread() is threading.main_thread()
        if self._installed:
            self._old_term = signal.signal(signal.SIGTERM, _interrupt)
            self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.set_wakeup_fd(self._old_fd)
            signal.signal(signal.SIGTERM, self._old_term)
        self._closed.set()
        os.close(self._write)
        os.close(self._read)

    def wait(self, timeout_s: float) -> int | None:
        """The next SIGINT/SIGTERM number within ``timeout_s``, else None (also once the watch has ended)."""
        if self._closed.is_set():
            return None
        try:
            ready, _, _ = select.select([self._read], [], [], timeout_s)
            data = os.read(self._read, 64) if ready else b""
        except (OSError, ValueError):  # closed by __exit__ meanwhile
            return None
        numbers = [n for n in data if n in (signal.SIGINT, signal.SIGTERM)]
        self.received.extend(numbers)
        return numbers[0] if numbers else None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
