"""`pyrel` (the console script) and `python -m pywrap`: start the CLI.

Python's cyclic garbage collector is paused while the CLI's modules load, and
what they made is then frozen out of later collections: typer, click and attrs
build hundreds of classes and functions at import, and the collections that
triggers, with the final one at exit, cost a few hundredths of a second on every
run, a tenth of a no-op build.  Nothing made at import is garbage; what a
command makes afterwards is collected as usual.
"""

import gc


def main() -> None:
    gc.disable()
    try:
        from pywrap.cli.app import app
    finally:
        gc.freeze()
        gc.enable()
    app(prog_name="pyrel")


if __name__ == "__main__":
    main()
