"""The producer-facing HTTP API (FastAPI), its Python client and remote CLI commands.

``api.app.create_app(settings)`` builds the app; ``api.client`` talks to it over HTTP.
"""
