"""Keyed randomness: uniforms that depend only on (seed, endpoint, event, attempt, stream).

A SplitMix64 finaliser over the key, implemented identically for Python ints and numpy uint64
arrays, so every engine and every policy compared on one seed sees the same draws, whatever the
order it processes attempts in. Nothing here touches a global generator or the wall clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FAIL",
    "HANG",
    "JITTER",
    "LATENCY",
    "STREAMS",
    "key_py",
    "keys_np",
    "uniform_py",
    "uniforms_np",
]

FAIL: Final = 0
LATENCY: Final = 1
HANG: Final = 2
JITTER: Final = 3
STREAMS: Final = 4
"""Per attempt, one uniform per purpose: failure, latency, hang, retry jitter."""

_M: Final = (1 << 64) - 1
_GOLDEN: Final = 0x9E3779B97F4A7C15
_C1: Final = 0xBF58476D1CE4E5B9
_C2: Final = 0x94D049BB133111EB
_SCALE: Final = 1.0 / (1 << 53)


def _mix_py(z: int) -> int:
    z = ((z ^ (z >> 30)) * _C1) & _M
    z = ((z ^ (z >> 27)) * _C2) & _M
    return z ^ (z >> 31)


def key_py(seed: int, endpoint: int, event: int) -> int:
    """The 64-bit key of one (endpoint, event) pair under ``seed``."""
    h = _mix_py((seed * _GOLDEN + _GOLDEN) & _M)
    h = _mix_py(h ^ (endpoint & _M))
    return _mix_py(h ^ (event & _M))


def uniform_py(seed: int, endpoint: int, event: int, attempt: int, stream: int) -> float:
    """One uniform in [0, 1) for attempt ``attempt`` (1-based) and purpose ``stream``."""
    h = _mix_py(key_py(seed, endpoint, event) ^ (attempt * STREAMS + stream))
    return (h >> 11) * _SCALE


def _mix_np(z: npt.NDArray[np.uint64], inplace: bool = False) -> npt.NDArray[np.uint64]:
    """:func:`_mix_py` over an array (same values), with one temporary; ``inplace`` reuses ``z``."""
    import numpy as np

    out = z if inplace else z.copy()
    t = out >> np.uint64(30)
    out ^= t
    out *= np.uint64(_C1)
    np.right_shift(out, np.uint64(27), out=t)
    out ^= t
    out *= np.uint64(_C2)
    np.right_shift(out, np.uint64(31), out=t)
    out ^= t
    return out


def keys_np(
    seed: int, endpoints: npt.NDArray[np.int64], events: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint64]:
    """:func:`key_py` over arrays (same values, element by element)."""
    import numpy as np

    start = np.uint64(_mix_py((seed * _GOLDEN + _GOLDEN) & _M))
    h = endpoints.astype(np.uint64)  # two's complement, as ``& _M`` in key_py
    h ^= start
    _mix_np(h, inplace=True)
    h ^= events.astype(np.uint64, copy=False)
    return _mix_np(h, inplace=True)


def uniforms_np(keys: npt.NDArray[np.uint64], attempt: int, stream: int) -> npt.NDArray[np.float64]:
    """:func:`uniform_py` for every key at one attempt and stream."""
    import numpy as np

    h = keys ^ np.uint64(attempt * STREAMS + stream)
    _mix_np(h, inplace=True)
    h >>= np.uint64(11)
    out = h.astype(np.float64)
    out *= _SCALE
    return out
