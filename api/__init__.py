"""The producer-facing HTTP API (FastAPI) and its Python client (the CLI is in ``cli/``).

``api.app.create_app(settings)`` builds the app; ``api.client`` talks to it over HTTP.
"""
