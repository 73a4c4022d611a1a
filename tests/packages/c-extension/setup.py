from setuptools import Extension, setup

setup(ext_modules=[Extension("cext_demo._speedups", ["src/cext_demo/_speedups.c"])])
