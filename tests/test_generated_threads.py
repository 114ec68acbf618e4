"""The receiver suite runs cases in threads; its hypothesis runs must take turns (hypothesis is
not thread-safe: in a loaded run two generated cases at once saw a half-imported module and were
graded ``error``, failing `whsim conformance receiver` against the reference receiver)."""

from __future__ import annotations

import threading
import time

from hypothesis import strategies as st
from whsim_conformance.receiver.generated import run_examples


def test_two_case_threads_never_run_hypothesis_at_once() -> None:
    inside = 0
    most = 0
    lock = threading.Lock()

    def check(_value: int) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        time.sleep(0.01)  # long enough for the other thread to enter, were it allowed
        with lock:
            inside -= 1

    start = threading.Barrier(3)

    def case(seed: int) -> None:
        start.wait()
        run_examples(st.integers(0, 9), check, seed=seed, n=10)

    threads = [threading.Thread(target=case, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert most == 1
