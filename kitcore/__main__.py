"""``python -m kitcore``: the ``kit`` command, for environments without its script."""

from kitcore.cli import main

main()
