# dre-bot for production: one process, its SQLite database on the /data volume. docs/DEPLOY.md says where it is safe.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRE_DB=/data/dre-bot.db \
    PORT=3000

WORKDIR /app
# The package without the sandbox extra: production talks to the real Slack, PagerDuty and Google.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY sandbox ./sandbox
RUN pip install .
# Runbooks, their queries and the Slack manifest (doctor compares scopes with it) are read at run time.
COPY runbooks ./runbooks
COPY slack-app-manifest.yaml ./

RUN useradd --system --uid 10001 --home-dir /app dre \
    && mkdir -p /data && chown dre /data
USER dre
VOLUME ["/data"]
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"3000\")}/healthz', timeout=4)"

CMD ["sh", "-c", "exec dre-bot serve --host 0.0.0.0 --port \"$PORT\""]
