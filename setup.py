"""Maps each top-level folder to `motionbridge.<folder>` (see pyproject.toml)."""
from setuptools import find_packages, setup

FOLDERS = ("daemon", "dcc_plugin", "exporters", "rigs", "install")

package_dir = {f"motionbridge.{folder}": folder for folder in FOLDERS}
packages = []
for folder in FOLDERS:
    packages.append(f"motionbridge.{folder}")
    packages += [f"motionbridge.{folder}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=package_dir)
