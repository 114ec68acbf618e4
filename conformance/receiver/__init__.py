"""The receiver conformance suite: point it at a webhook endpoint with the shared secret."""
