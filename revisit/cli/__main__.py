"""``python -m revisit.cli``: the ``revisit`` command."""

from revisit.cli import app

app()
