"""ASGI entry point for uvicorn: the app built from the environment's settings."""

from api.app import create_app
from knowledge.logs import configure_logging
from knowledge.settings import Settings

configure_logging()
app = create_app(Settings())
