"""Build script: compiles the Rust extension (ffi/ + src/) into bufpng._bufpng.

`pip install .` and `python setup.py build_ext --inplace` both go through here.
"""

import os
import re
import tomllib
from pathlib import Path

from setuptools import setup
from setuptools_rust import Binding, RustExtension

HERE = Path(__file__).resolve().parent

# The shipped module must not link libpython: the interpreter importing it
# provides those symbols. Set here only, so a plain `cargo test` still links
# libpython and can run.
os.environ["PYO3_BUILD_EXTENSION_MODULE"] = "1"


def cargo_version() -> str:
    """The version lives in Cargo.toml's [workspace.package] only."""
    text = (HERE / "Cargo.toml").read_text(encoding="utf-8")
    section = text.split("[workspace.package]", 1)[1]
    return re.search(r'^version\s*=\s*"([^"]+)"', section, re.MULTILINE).group(1)


def long_description() -> str:
    """README.md with its relative links made absolute (to the sources of this
    version), so they also work on PyPI, which renders it without the files."""
    text = (HERE / "README.md").read_text(encoding="utf-8")
    with open(HERE / "pyproject.toml", "rb") as f:
        source = tomllib.load(f)["project"]["urls"]["Source"]
    base = f"{source}/blob/v{cargo_version()}/"
    return re.sub(r"\]\((?!https?://|#)([^)]+)\)", lambda m: f"]({base}{m.group(1)})", text)


setup(
    version=cargo_version(),
    long_description=long_description(),
    long_description_content_type="text/markdown",
    packages=["bufpng"],
    package_dir={"": "python"},
    package_data={"bufpng": ["py.typed", "*.pyi"]},
    rust_extensions=[
        RustExtension(
            "bufpng._bufpng",
            path="Cargo.toml",
            # pyo3-ffi without PyO3: the default binding would add pyo3 features.
            binding=Binding.NoBinding,
            py_limited_api="cp311",
        )
    ],
    # One cp311-abi3 wheel serves every CPython from 3.11 on.
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
    zip_safe=False,
)
