"""Maps each top-level folder to `motionbridge.<folder>` (see pyproject.toml) and sets the version."""
import re
from pathlib import Path

from setuptools import find_packages, setup

FOLDERS = ("daemon", "dcc_plugin", "exporters", "rigs", "install")

package_dir = {f"motionbridge.{folder}": folder for folder in FOLDERS}
packages = []
for folder in FOLDERS:
    packages.append(f"motionbridge.{folder}")
    packages += [f"motionbridge.{folder}.{sub}" for sub in find_packages(folder)]

# the one version number (pyproject's `dynamic = ["version"]`)
VERSION = re.search(r'^__version__ = "([^"]+)"', (Path(__file__).parent / "daemon" / "__init__.py").read_text(), re.M).group(1)

setup(version=VERSION, packages=packages, package_dir=package_dir)
