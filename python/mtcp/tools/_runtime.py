"""What every tool does the same way: build a :class:`mtcp.Config` from a file and options,
run one worker thread per context, print a line a second, and stop cleanly on a deadline,
when the work is done, or on Ctrl-C."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import mtcp

__all__ = ["Runner", "UsageError", "Worker", "WorkerGroup", "make_config", "with_prefix"]

#: How long an epoll wait may block before a worker looks at its stop flag again.
POLL_TIMEOUT_MS = 100
#: How long, after stopping, workers get to finish before the tool gives up on them.
JOIN_TIMEOUT_S = 10.0


class UsageError(Exception):
    """A bad combination of options (exit status 2)."""


def with_prefix(addr: str, default_prefix: int = 24) -> str:
    """``198.18.0.1`` → ``198.18.0.1/24``; an address with a prefix is kept."""
    return addr if "/" in addr else f"{addr}/{default_prefix}"


def make_config(
    conf_file: str | None,
    *,
    hub: str | None,
    addr: str | None,
    default_addr: str,
    **overrides: Any,
) -> mtcp.Config:
    """The configuration a tool runs with.

    With ``-f FILE``: that file, with only the options given on the command line applied on
    top. Without: the in-memory link (``io=memory``) on hub ``hub`` (default ``mtcp0``) at
    ``addr`` (default ``default_addr``). ``overrides`` whose value is ``None`` are ignored.
    Raises :class:`mtcp.ConfigError` for a bad file or value."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if hub is not None:
        changes["port"] = hub
    if addr is not None:
        changes["addr"] = with_prefix(addr)
    if conf_file is not None:
        cfg = mtcp.Config.load(conf_file)
        if hub is not None and cfg.io != "memory":
            raise UsageError(f"--hub names an in-memory link, but {conf_file} has io={cfg.io}")
        return cfg.replace(**changes) if changes else cfg
    changes.setdefault("port", "mtcp0")
    changes.setdefault("addr", with_prefix(default_addr))
    return mtcp.Config(io="memory", **changes)


#: A worker: the body of one thread, given the shared stop flag; it must return soon after
#: the flag is set (within about ``POLL_TIMEOUT_MS``, plus any drain time it allows itself).
Worker = Callable[[threading.Event], None]


class WorkerGroup:
    """Worker threads sharing one stop flag; an exception in one is kept and stops them all."""

    def __init__(self, workers: Sequence[tuple[str, Worker]]) -> None:
        self.stop = threading.Event()
        #: ``(worker name, exception)`` of every worker that raised or did not stop.
        self.failures: list[tuple[str, BaseException]] = []
        self._threads = [
            threading.Thread(target=self._wrap(name, w), name=name, daemon=True)
            for name, w in workers
        ]

    def _wrap(self, name: str, worker: Worker) -> Callable[[], None]:
        def body() -> None:
            try:
                worker(self.stop)
            except BaseException as exc:  # reported by the main thread, never lost
                self.failures.append((name, exc))
                self.stop.set()

        return body

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def stop_and_join(self, timeout: float = JOIN_TIMEOUT_S) -> None:
        """Sets the stop flag and waits (at most ``timeout`` s in all) for the threads."""
        self.stop.set()
        limit = time.monotonic() + timeout
        for t in self._threads:
            try:
                t.join(max(0.0, limit - time.monotonic()))
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                break
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            self.failures.append(
                ("runner", TimeoutError(f"workers did not stop: {', '.join(stuck)}"))
            )


@dataclass
class Runner:
    """Runs workers in threads and reports once a second from the calling thread.

    ``tick(elapsed_s, interval_s)`` prints the progress line; ``done()`` says the work is
    finished early. The run ends at the first of: ``duration`` seconds, ``done()``, every
    worker returned, a worker failed, Ctrl-C.
    """

    workers: Sequence[tuple[str, Worker]]
    tick: Callable[[float, float], None]
    done: Callable[[], bool] = lambda: False
    duration: float | None = None
    out: TextIO = field(default_factory=lambda: sys.stdout)
    #: ``(worker name, exception)`` of every worker that raised or did not stop.
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    interrupted: bool = False
    elapsed: float = 0.0

    def run(self) -> None:
        """Starts the workers, reports each second, stops and joins them (bounded)."""
        group = WorkerGroup(self.workers)
        start = time.monotonic()
        deadline = start + self.duration if self.duration is not None else None
        last_tick = start
        next_tick = start + 1.0  # ticks on whole seconds from the start, so none drifts away
        group.start()
        try:
            while not group.stop.is_set():
                now = time.monotonic()
                wake = next_tick if deadline is None else min(next_tick, deadline)
                # Short waits: done() is polled often, so a finished run ends promptly.
                group.stop.wait(max(0.0, min(wake - now, 0.05)))
                now = time.monotonic()
                if now >= next_tick:
                    self.tick(now - start, now - last_tick)
                    last_tick = now
                    next_tick += 1.0 + (now - next_tick) // 1.0  # skip missed ticks
                if (deadline is not None and now >= deadline) or self.done():
                    break
                if not group.alive():
                    break
        except KeyboardInterrupt:
            self.interrupted = True
            print("\ninterrupted, stopping...", file=self.out, flush=True)
        finally:
            group.stop_and_join()
            self.elapsed = time.monotonic() - start
            self.failures.extend(group.failures)
