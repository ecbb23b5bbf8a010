"""Checks an installed bufpng (run by `make sdist-check` in a fresh venv).

Run from outside the source tree, so `import bufpng` finds the installed
package, not python/bufpng.
"""

import inspect
import sys
from importlib import metadata, resources

import bufpng

site = bufpng.__file__
assert "site-packages" in site, f"imported bufpng from {site}, not from the installed package"
assert bufpng.__version__ == metadata.version("bufpng"), (bufpng.__version__, metadata.version("bufpng"))
files = {p.name for p in resources.files("bufpng").iterdir()}
missing = {"py.typed", "__init__.pyi", "_bufpng.pyi"} - files
assert not missing, f"the package lacks {missing}"
assert any(name.startswith("_bufpng") and name.endswith(".abi3.so") for name in files), files

pixels = bytes(range(12))  # 2x2 BGR
frame = bufpng.decode(bufpng.encode(pixels, width=2, height=2))
assert frame.tobytes() == pixels and frame.order == "bgr"
assert str(inspect.signature(bufpng.encode)).startswith("(image, width=None")
print(f"bufpng {bufpng.__version__} installed and working ({sys.executable})")
