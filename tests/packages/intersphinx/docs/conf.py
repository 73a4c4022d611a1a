from importlib import metadata

project = "linkdemo"
# The installed wheel's version: the docs stage installs the wheel stage's wheel. pyrel's lock-time
# probe runs before any wheel exists, cannot run this file, and reads intersphinx_mapping as a literal.
release = metadata.version("linkdemo")
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
# tests/integration/test_intersphinx.py writes the address of the inventory it serves.
intersphinx_mapping = {"upstream": ("http://127.0.0.1:1/upstream", None)}
