# Slipway: one image for the web (gunicorn), worker and beat processes (docker-compose.yml).
# The MLflow server is a separate target (`mlflow server` needs full mlflow; Slipway itself
# only needs mlflow-skinny).
# Note: no Docker engine runs on the development machines; this file is kept consistent
# with portal/settings.py but is not built in CI.

FROM python:3.11-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# --- the MLflow tracking server + model registry ------------------------------------------
FROM base AS mlflow
RUN pip install "mlflow==3.17.2" && useradd --system --uid 10001 --create-home mlflow \
    && mkdir -p /srv/mlflow && chown mlflow /srv/mlflow
USER mlflow
EXPOSE 5000
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", \
     "--backend-store-uri", "sqlite:////srv/mlflow/mlflow.db", \
     "--artifacts-destination", "/srv/mlflow/artifacts", "--serve-artifacts"]

# --- Slipway (default target) ---------------------------------------------------------------
FROM base AS slipway
WORKDIR /app
COPY requirements.txt requirements-lock.txt ./
RUN pip install -r requirements.txt -c requirements-lock.txt
COPY . .
# Static files are collected into the image; SLIPWAY_VAR_DIR holds only run-time state.
ENV SLIPWAY_VAR_DIR=/var/lib/slipway
RUN pip install --no-deps -e . \
    && python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 10001 slipway \
    && chown -R slipway /var/lib/slipway
USER slipway
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", \
     "--access-logfile", "-", "--graceful-timeout", "20"]
