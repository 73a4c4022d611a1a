project = "hello-pyrel"
extensions = ["sphinx.ext.autodoc"]
html_theme = "alabaster"
