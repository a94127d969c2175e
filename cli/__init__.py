"""The ``imagejobs`` command line: the third entrypoint, beside ``api/`` and ``worker/``.

``cli.main`` is the root command; ``local`` holds the commands that work on this deployment's
database, ``remote`` the same commands through an API (``--api``), ``keys`` producers' keys,
``services`` the long-running processes (worker, Flower, API, emulator) and ``demo`` the demo.
"""
