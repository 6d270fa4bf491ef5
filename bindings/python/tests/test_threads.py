"""Sign, verify, key generation and audit release the GIL.

Shown by behaviour, not by timing. With a switch interval far longer than the
test, CPython never takes the GIL from a running thread by force, so a second
Python thread runs only when the first gives the GIL up of its own accord.
Here the first thread (the test) runs a batch of one operation and, after
each call, looks at a list that the second thread appends to as soon as it
holds the GIL. Nothing else in the batch gives the GIL up: if the operation
kept it, the second thread could not run before the batch ends, and the test
fails. The control test runs the same harness over a native call that keeps
the GIL (``pow`` on large integers) and requires that the second thread did
not run, so the harness itself is shown able to fail.

The number of calls bounds a batch only so that a failure ends: with the GIL
released, the second thread runs during the first call in which the
scheduler gives it a core, whatever the machine's speed or load (when this
test was written: after at most 9 RSA signs and 700 of the shortest calls,
on one core or two, under a load of 7; the bounds are 5,000 and 100,000). A
wheel built with ``sign`` and ``verify`` keeping the GIL failed their four
tests here, and only those.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable

import pytest

import smartmeter
from conftest import POLICY, VALID

READING = {"sequence": 1, "timestamp_ms": 1_764_000_000_000, "wh_imported": 1200, "wh_exported": 30}

# Longer than any run of the test suite: no forced switch happens in a batch.
NO_FORCED_SWITCH = 3600.0


def other_thread_ran(operation: Callable[[], object], calls: int) -> bool:
    """Whether a second Python thread ran while this one made at most `calls` calls of `operation`.

    The second thread waits on an event and then appends to `ran`, which
    needs the GIL; this thread sets the event and calls `operation`,
    checking `ran` after each call.
    """
    go = threading.Event()
    ran: list[bool] = []

    def second() -> None:
        go.wait()
        ran.append(True)

    old = sys.getswitchinterval()
    sys.setswitchinterval(NO_FORCED_SWITCH)
    thread = threading.Thread(target=second)
    try:
        thread.start()  # returns once the thread waits on `go`, without the GIL
        go.set()
        for _ in range(calls):
            operation()
            if ran:
                return True
        return False
    finally:
        go.set()
        thread.join()  # gives the GIL up: the second thread finishes
        sys.setswitchinterval(old)


def vector_key(name: str) -> smartmeter.MeterKey:
    """The private key of the valid vector `name`."""
    return smartmeter.MeterKey.from_pem(next(c for c in VALID if c["name"] == name)["private_key_pem"])


RSA = vector_key("rsa2048-basic")
P256 = vector_key("p256-basic")
RSA_PUBLIC, P256_PUBLIC = RSA.public_key(), P256.public_key()
RSA_SIGNED, P256_SIGNED = RSA.sign(**READING), P256.sign(**READING)
BURST = next(c for c in POLICY if c["name"] == "gateway-burst-reversed")
BURST_READINGS = [
    smartmeter.PublicKey.from_pem(BURST["public_key_pem"]).verify(smartmeter.SignedReading.from_json(step["json"]))
    for step in BURST["steps"]
]

OPERATIONS: list[tuple[str, Callable[[], object], int]] = [
    ("sign rsa2048", lambda: RSA.sign(**READING), 5_000),
    ("sign p256", lambda: P256.sign(**READING), 100_000),
    ("verify rsa2048", lambda: RSA_PUBLIC.verify(RSA_SIGNED), 100_000),
    ("verify p256", lambda: P256_PUBLIC.verify(P256_SIGNED), 100_000),
    ("generate rsa2048", lambda: smartmeter.MeterKey.generate(), 20),
    ("generate p256", lambda: smartmeter.MeterKey.generate(algorithm="p256"), 100_000),
    ("audit 51 readings", lambda: smartmeter.audit(BURST_READINGS), 100_000),
]


@pytest.mark.parametrize("name,operation,calls", OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_another_python_thread_runs_during_the_operation(name: str, operation: Callable[[], object], calls: int) -> None:
    assert other_thread_ran(operation, calls), f"{name}: no other Python thread ran in {calls} calls: is the GIL held?"


def test_control_a_native_call_that_keeps_the_gil_lets_no_other_thread_run() -> None:
    modulus = 2**2048 - 159
    assert not other_thread_ran(lambda: pow(3, 2**64 + 13, modulus), 500)


def test_signatures_made_in_threads_are_the_ones_made_in_one() -> None:
    from concurrent.futures import ThreadPoolExecutor

    readings = [{**READING, "sequence": n} for n in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda r: RSA.sign(**r), readings))
    assert threaded == [RSA.sign(**r) for r in readings]
