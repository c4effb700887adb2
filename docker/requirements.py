"""setup.py's install_requires, one a line (stdlib and setuptools only), so that the
Dockerfile installs the dependencies in a layer of their own, before the code.

    python requirements.py setup.py > requirements.txt
"""
import runpy
import sys

import setuptools


def install_requires(path):
    captured = {}
    setuptools.setup = lambda **kwargs: captured.update(kwargs)
    runpy.run_path(path)
    return captured["install_requires"]


if __name__ == "__main__":
    print("\n".join(install_requires(sys.argv[1])))
