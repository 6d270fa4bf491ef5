"""Sign and verify release the GIL.

Two tests, because a shared 2-core machine makes timing unreliable:

1. test_python_runs_while_another_thread_signs: deterministic, independent of
   machine load. With a long switch interval, a Python thread can only run
   while another thread is inside ``sign`` if ``sign`` released the GIL. If
   it did not, the only chance for the other thread is a forced switch at the
   end of a switch interval (0.25 s), which lands in at most one or two of
   the eight ~20 ms signing windows; the test asks for progress in at least
   five of them.
2. test_threads_sign_and_verify_faster_than_one: the speed-up itself, two
   threads doing the same total work as one, best of three rounds; 1.3x
   passes at once. A busy machine (other builds; the scheduler may give this
   session one core's worth in all) can deny any speed-up, so the same work
   is also timed in two processes as a control: threads must then reach 80%
   of the processes' speed-up, and when even processes gain less than 1.3x
   the test is skipped with the figures (pytest -ra lists the reason); the
   deterministic test above still guards the GIL release of ``sign``.

``verify`` (under a millisecond even at 4096 bits) is too short for the
deterministic method: a waiting thread does not wake within one call on a
busy machine. Its GIL release is covered by the speed-up test only.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from typing import Any

import pytest

import smartmeter
from conftest import VALID

READING = {"sequence": 1, "timestamp_ms": 1_764_000_000_000, "wh_imported": 1200, "wh_exported": 30}


def test_python_runs_while_another_thread_signs(key4096: smartmeter.MeterKey) -> None:
    counter = [0]
    stop = threading.Event()
    progressed: list[bool] = []

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    def sign_and_watch() -> None:
        for _ in range(8):
            before = counter[0]
            key4096.sign(**READING)
            progressed.append(counter[0] != before)

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.25)
    try:
        counter_thread = threading.Thread(target=count)
        counter_thread.start()
        signer = threading.Thread(target=sign_and_watch)
        signer.start()
        signer.join(timeout=120)
        stop.set()
        counter_thread.join(timeout=10)
    finally:
        sys.setswitchinterval(old)
    assert len(progressed) == 8
    assert sum(progressed) >= 5, f"Python code ran during only {sum(progressed)} of 8 sign calls: is the GIL held?"


# For the process pool of the control measurement (fork: children inherit these).
KEY4096 = smartmeter.MeterKey.from_pem(next(c for c in VALID if c["name"] == "rsa4096")["private_key_pem"])
SIGNED4096 = KEY4096.sign(**READING)


def work(operation: str, count: int) -> None:
    """`count` signs or verifies with the 4096-bit vector key."""
    if operation == "sign":
        for _ in range(count):
            KEY4096.sign(**READING)
    else:
        public = KEY4096.public_key()
        for _ in range(count):
            public.verify(SIGNED4096)


def work_args(args: tuple[str, int]) -> None:
    work(*args)


def threads_time(operation: str, threads: int, total: int) -> float:
    """Seconds for `threads` threads to do `total` operations altogether."""
    workers = [threading.Thread(target=work, args=(operation, total // threads)) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def processes_time(pool: Any, operation: str, processes: int, total: int) -> float:
    """Seconds for `processes` pool processes to do `total` operations altogether."""
    start = time.perf_counter()
    pool.map(work_args, [(operation, total // processes)] * processes)
    return time.perf_counter() - start


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs at least 2 CPUs")
@pytest.mark.parametrize("operation,total", [("sign", 24), ("verify", 1200)])
def test_threads_sign_and_verify_faster_than_one(operation: str, total: int) -> None:
    with multiprocessing.get_context("fork").Pool(2) as pool:
        best: dict[str, float] = {}
        for _ in range(3):
            measured = {
                "1 thread": threads_time(operation, 1, total),
                "2 threads": threads_time(operation, 2, total),
                "1 process": processes_time(pool, operation, 1, total),
                "2 processes": processes_time(pool, operation, 2, total),
            }
            for name, seconds in measured.items():
                best[name] = min(best.get(name, float("inf")), seconds)
            threads = best["1 thread"] / best["2 threads"]
            processes = best["1 process"] / best["2 processes"]
            if threads > 1.3:
                return
    figures = ", ".join(f"{name} {t:.3f}s" for name, t in best.items())
    if processes < 1.3:
        pytest.skip(f"no spare core on this machine now: 2 processes were only {processes:.2f}x faster ({figures})")
    assert threads >= min(1.3, 0.8 * processes), f"{operation}: threads {threads:.2f}x, processes {processes:.2f}x ({figures})"
