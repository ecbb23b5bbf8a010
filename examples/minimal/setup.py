"""Builds bufpng_minimal: `pip install examples/minimal` (make test does)."""

# mypy: ignore-errors
# (a build script: setuptools ships no type information in every environment)

import os

from setuptools import setup
from setuptools_rust import Binding, RustExtension

# The module must not link libpython: the interpreter importing it provides
# those symbols (as in the main setup.py).
os.environ["PYO3_BUILD_EXTENSION_MODULE"] = "1"

setup(
    # pyo3-ffi without PyO3: the default binding would add pyo3 features.
    rust_extensions=[
        RustExtension("bufpng_minimal", path="Cargo.toml", binding=Binding.NoBinding, py_limited_api="cp311")
    ],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
    zip_safe=False,
)
