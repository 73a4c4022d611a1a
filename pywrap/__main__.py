from pywrap.cli import app

app(prog_name="pyrel")
