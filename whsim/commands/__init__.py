"""Subcommands of the ``whsim`` command line, one module each (see :mod:`whsim.cli`)."""
