"""Packaging shim: ships the repository's top-level ``data/`` folder inside the wheel as ``paradigm._data``.

Everything else lives in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["paradigm", "paradigm.*", "meta_eval", "meta_eval.*"]) + ["paradigm._data"],
    package_dir={"paradigm._data": "data"},
    package_data={
        "paradigm._data": ["*.py", "*.json", "**/*.json", "**/*.csv", "**/*.md", "**/*.txt"],
        "paradigm": ["py.typed", "web/*", "web/**/*", "metrics/manifest.json"],
    },
    include_package_data=True,
)
