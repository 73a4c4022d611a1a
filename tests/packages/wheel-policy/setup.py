from setuptools import Extension, setup

setup(ext_modules=[Extension("sqlite_demo._sqlite", ["src/sqlite_demo/_sqlite.c"], libraries=["sqlite3"])])
