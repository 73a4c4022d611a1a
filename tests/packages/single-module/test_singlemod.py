import os

import singlemod


def test_the_answer():
    assert singlemod.ANSWER == 42


def test_imports_the_installed_wheel_not_the_module_beside_it():
    # The test stage leaves singlemod.py out of the tests' tree, so this is the wheel's copy.
    assert not os.path.exists(os.path.join(os.getcwd(), "singlemod.py"))
    assert os.path.dirname(os.path.abspath(singlemod.__file__)) != os.getcwd(), singlemod.__file__
