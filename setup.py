"""Packaging shim: ships the repository's top-level ``data/`` folder inside the wheel as ``paradigm._data``.

Everything else lives in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["paradigm", "paradigm.*", "meta_eval", "meta_eval.*"]) + ["paradigm._data"],
    package_dir={"paradigm._data": "data"},
    package_data={
        # weights/niqe/*.npz and the extension-less BRISQUE files are the bundled classical parameters
        # (with their licence texts, matched by **/*.txt); see data/weights/table.json
        "paradigm._data": [
            "*.py", "*.json", "**/*.json", "**/*.csv", "**/*.md", "**/*.txt",
            "weights/*/*.npz", "weights/brisque/allmodel", "weights/brisque/allrange",
        ],
        "paradigm": ["py.typed", "web/*", "web/**/*", "metrics/manifest.json"],
    },
    include_package_data=True,
)
