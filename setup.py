"""Two build steps pyproject.toml cannot declare (all the rest is there).

- The wheel carries the commented configuration template, ``config.example.toml`` at the project root (the one
  text), as ``sspr_review/data/config.example.toml``, where ``sspr-review init`` reads it with importlib.resources.
  An editable install reads the root file itself (``sspr_review.starter``).
- The sdist leaves out what a developer's checkout grows (bytecode caches, notebook checkpoints, the Kusto parser's
  node_modules) without MANIFEST.in exclusions, which setuptools warns about whenever there is nothing to exclude.
"""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

TEMPLATE = "config.example.toml"
#: Paths in a checkout that are never part of the source distribution.
GENERATED = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|node_modules)(/|$)|\.py[cod]$")


class BuildPy(build_py):
    """build_py, plus the configuration template as package data of sspr_review.data."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib, "sspr_review", "data", TEMPLATE)
            self.mkpath(str(target.parent))
            self.copy_file(TEMPLATE, str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib, "sspr_review", "data", TEMPLATE))]


class SDist(sdist):
    """sdist without the files a checkout generates."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, [f for f in files if not GENERATED.search(f.replace("\\", "/"))])


setup(cmdclass={"build_py": BuildPy, "sdist": SDist})
