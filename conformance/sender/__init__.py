"""The sender conformance suite: point it at a webhook service's API base URL."""
