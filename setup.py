"""Build script: compiles the Rust extension (ffi/ + src/) into bufpng._bufpng.

`pip install .` and `python setup.py build_ext --inplace` both go through here.
"""

import os
import re
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


setup(
    version=cargo_version(),
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
