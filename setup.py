"""Package list for setuptools; everything else is in pyproject.toml.

The checkout's top-level ``conformance/`` folder is installed as the ``whsim_conformance``
package, so ``whsim conformance`` works from a plain (non-editable) install without taking the
generic top-level name ``conformance`` in site-packages. pyproject.toml alone cannot both find
``whsim*`` packages and map a folder to another name, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["whsim", "whsim.*"]),
        "whsim_conformance",
        *(f"whsim_conformance.{name}" for name in find_packages("conformance")),
    ],
    package_dir={"whsim_conformance": "conformance"},
)
