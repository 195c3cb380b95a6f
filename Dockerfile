# Same install and start steps as the Makefile (`make install`, `make run`): the locked versions
# from uv.lock (no fresh resolution), `lhs-map migrate` (alembic upgrade head), then uvicorn. Set LHS_DATABASE_URL
# for PostgreSQL, WEB_CONCURRENCY for more than one worker process, and (production settings
# refuse to start otherwise) LHS_LINK_SECRET shared by every instance. Behind a load balancer,
# LHS_FORWARDED_ALLOW_IPS names it (no address is trusted to forward client addresses otherwise;
# uvicorn's own --proxy-headers, which trusts loopback, is off).
FROM python:3.11-slim

# Bytecode is compiled once, at build (as make install does): the image writes none at run time
# (PYTHONDONTWRITEBYTECODE), and without it every worker process would compile its imports.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/srv/lhs/.venv \
    PATH=/srv/lhs/.venv/bin:$PATH \
    LHS_HOME=/data \
    LHS_DATABASE_URL=sqlite+aiosqlite:////data/lhs.db \
    LHS_ENVIRONMENT=production \
    LHS_ALEMBIC_INI=/srv/lhs/alembic.ini \
    LHS_LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/lhs-metrics

# The board report's PDF (WeasyPrint): Pango, HarfBuzz with its subsetter, and a font.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 lhs && mkdir /data && chown lhs /data
WORKDIR /srv/lhs

# The locked third-party packages first (a layer that survives code changes), then the project.
# --locked refuses to build when uv.lock does not match pyproject.toml. What serving needs only,
# as `make run` installs it: no dev extra (test, lint and benchmark tools).
COPY pyproject.toml uv.lock ./
RUN python -m pip install 'uv==0.13.9' \
 && uv sync --locked --no-install-project --no-editable --python python3
COPY README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN uv sync --locked --no-editable --python python3 && python -m pip uninstall -y uv

USER lhs
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/_ping', timeout=2).status != 200)"

# The metrics directory is emptied before the workers start (counters would otherwise carry on
# from the last run); WEB_CONCURRENCY (uvicorn's own variable) sets the number of workers.
CMD ["sh", "-c", "python -m app.http.metrics prepare \"$PROMETHEUS_MULTIPROC_DIR\" && lhs-map migrate && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --no-proxy-headers --no-access-log --no-server-header --limit-concurrency 1000 --timeout-keep-alive 5"]
