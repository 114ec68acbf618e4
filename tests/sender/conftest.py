"""Fixtures of the sender tests; the helpers live in ``sender_harness`` (a unique module name)."""

from sender_harness import receiver, sender

__all__ = ["receiver", "sender"]
