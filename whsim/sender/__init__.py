"""The reference sender: the guide's webhook service over real HTTP, on the same core.

``whsim sender`` runs it; :func:`create_app` gives the ASGI app for embedding and tests.
"""

from whsim.sender.app import create_app
from whsim.sender.config import SenderConfig

__all__ = ["SenderConfig", "create_app"]
