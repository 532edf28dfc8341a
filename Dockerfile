# visitlens: one image for the API and the Celery workers (the command picks the role).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 \
    VISITLENS_DATA_DIR=/data VISITLENS_AUDIO_DIR=/data/audio VISITLENS_MODELS_DIR=/models
WORKDIR /app

# The CPU build of torch first: PyPI's torch is the multi-GB CUDA build. For a GPU image:
# docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install torch==2.13.0 --index-url ${TORCH_INDEX}
COPY pyproject.toml README.md ./
COPY api api
COPY workers workers
COPY nlp nlp
COPY knowledge knowledge
COPY prompts prompts
# Editable, so the code runs from /app next to its data files (prompts/, the web page, the
# migration templates), which a plain wheel would leave out. webrtcvad (for the speaker encoder)
# ships no wheel: a compiler for the build, removed again in the same layer.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install -e . && visitlens models build \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*

VOLUME ["/data"]
EXPOSE 8000
CMD ["visitlens", "api"]
