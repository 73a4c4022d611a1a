import unittest

import units_helpers_that_do_not_exist  # noqa: F401  (the collection error the integration test expects)


class TestNever(unittest.TestCase):
    def test_never_runs(self):
        pass
