from failing import add


def test_add_passes():
    assert add(1, 2) == 3


def test_add_fails():
    assert add(2, 2) == 5
