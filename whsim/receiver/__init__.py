"""The reference receiver: the guide's receiver done right, with optional faults for demos.

Signatures are checked on the raw bytes with a constant-time compare; missing or bad ones get
401; the verification challenge is echoed; events are deduplicated by id in SQLite (so a restart
keeps them); bad data gets 400; everything else a fast 200. Faults come from
:mod:`whsim.core.behaviours`, the same definitions the simulator uses.
"""

from whsim.receiver.app import create_app
from whsim.receiver.store import ReceiverStore
from whsim.serve import ServerThread

__all__ = ["ReceiverStore", "ServerThread", "create_app"]
