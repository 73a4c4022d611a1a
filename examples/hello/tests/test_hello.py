from hello import greet


def test_greet() -> None:
    assert greet("release manager") == "Hello, release manager!"
