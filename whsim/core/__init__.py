"""The pure core: the guide's rules as functions and frozen data.

Nothing in this package does I/O, reads the wall clock or uses global randomness; time and
seeds are passed in. ``tests/test_layers.py`` fails when a module here imports a shell, the
kit, a tool, or an I/O library.
"""
