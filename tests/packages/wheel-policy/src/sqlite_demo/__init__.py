from sqlite_demo._sqlite import sqlite_version

__all__ = ["sqlite_version"]
