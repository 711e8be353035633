"""Puts bindings/python on sys.path so that `import winnow` finds the package."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_configure(config):
    config.addinivalue_line("markers", "full: slower tests run by `make test-ray-full`")
