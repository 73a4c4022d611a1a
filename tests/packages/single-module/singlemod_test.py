import singlemod


def test_the_other_naming():
    assert singlemod.ANSWER > 0
