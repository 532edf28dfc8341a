"""ASGI entry point for uvicorn: the app built from the environment's settings."""

import threading

from knowledge.settings import Settings
from nlp.embed import load_embedder

# The query embedder's weights load (1.4 s, mostly outside the GIL) while the app's modules
# import; the app's start waits for them, so no request does.
threading.Thread(target=load_embedder, args=(Settings().embedding_model,), daemon=True).start()

from api.app import create_app  # noqa: E402
from knowledge.logs import configure_logging  # noqa: E402

configure_logging()
app = create_app(Settings())
