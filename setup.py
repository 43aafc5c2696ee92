"""Package discovery for the one `akida_edge` namespace (see DESIGN.md §1).

`drivers/`, `pipelines/`, `apps/` and `bench/` live at the top level of the repository but install
as `akida_edge.drivers`, `akida_edge.pipelines`, `akida_edge.apps` and `akida_edge.bench`; the
mapping is in pyproject.toml (`package-dir`), and this file lists their sub-packages, which
setuptools' own finder cannot see through the mapping.
"""

from setuptools import find_packages, setup

MAPPED = {"drivers": "akida_edge.drivers", "pipelines": "akida_edge.pipelines",
          "apps": "akida_edge.apps", "bench": "akida_edge.bench"}

packages = find_packages(".", include=["akida_edge", "akida_edge.*"])
for folder, dotted in MAPPED.items():
    packages.append(dotted)
    packages += [f"{dotted}.{sub}" for sub in find_packages(folder)]

setup(packages=packages)
