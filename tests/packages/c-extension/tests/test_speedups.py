import unittest

import cext_demo


class SpeedupsTest(unittest.TestCase):
    def test_add(self) -> None:
        self.assertEqual(cext_demo.add(2, 3), 5)

    def test_greet(self) -> None:
        self.assertEqual(cext_demo.greet("pyrel"), "hello, pyrel")

    def test_is_compiled(self) -> None:
        self.assertTrue(cext_demo._speedups.__file__.endswith(".so"))


if __name__ == "__main__":
    unittest.main()
