"""whsim conformance suites, installed as the ``whsim_conformance`` package (see setup.py)."""
