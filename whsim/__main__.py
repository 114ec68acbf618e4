"""``python -m whsim``: the same as the ``whsim`` command."""

from whsim.cli import main

raise SystemExit(main())
