"""The named scenarios, as TOML files (``NAME.toml``); a package so setuptools ships them as data."""
