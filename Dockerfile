# visitlens: one image for the API and the Celery workers (the command picks the role).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 \
    VISITLENS_DATA_DIR=/data VISITLENS_AUDIO_DIR=/data/audio VISITLENS_MODELS_DIR=/models
WORKDIR /app

# The CPU build of torch first: an unpinned torch would pull the multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY api api
COPY workers workers
COPY nlp nlp
COPY knowledge knowledge
COPY prompts prompts
# Editable, so the code runs from /app next to its data files (prompts/, the web page, the
# migration templates), which a plain wheel would leave out.
RUN pip install -e . && visitlens models build

VOLUME ["/data"]
EXPOSE 8000
CMD ["visitlens", "api"]
