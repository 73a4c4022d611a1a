project = "linkdemo"
extensions = ["sphinx.ext.intersphinx"]
# tests/integration/test_intersphinx.py writes the address of the inventory it serves.
intersphinx_mapping = {"upstream": ("http://127.0.0.1:1/upstream", None)}
