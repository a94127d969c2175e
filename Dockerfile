FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY imagejobs ./imagejobs
COPY worker ./worker
COPY api ./api
COPY cli ./cli
COPY migrations ./migrations
RUN pip install --no-cache-dir -e .
ENTRYPOINT ["imagejobs"]
