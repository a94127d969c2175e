"""``python -m cli``: the ``imagejobs`` command line."""

from cli.main import main

main()
