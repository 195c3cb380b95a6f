# Same install and start steps as the Makefile (`make install`, `make run`): pip install the
# project, `alembic upgrade head`, then uvicorn. Set LHS_DATABASE_URL for PostgreSQL, and (production
# settings refuse to start otherwise) LHS_LINK_SECRET shared by every instance.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LHS_DATABASE_URL=sqlite+aiosqlite:////data/lhs.db \
    LHS_ENVIRONMENT=production \
    LHS_ALEMBIC_INI=/srv/lhs/alembic.ini

RUN useradd --create-home --uid 10001 lhs && mkdir /data && chown lhs /data
WORKDIR /srv/lhs

COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN python -m pip install --upgrade pip && python -m pip install .

USER lhs
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/_ping', timeout=2).status != 200)"

CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers --no-access-log --no-server-header --limit-concurrency 1000 --timeout-keep-alive 5"]
