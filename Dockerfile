# Vigil server image: `vigil serve` on 0.0.0.0:8501 with its DuckDB file on the /data volume.
#   docker build -t vigil .
#   docker run -p 8501:8501 -v vigil-data:/data vigil

FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Runtime dependencies only (pyproject's main list plus the gpu extra), at the versions the
# lock pins; the dev tools in the lock stay out of the image. This layer changes only when
# pyproject.toml or requirements.lock do.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['gpu']))" > runtime.txt \
    && pip install --no-cache-dir -c requirements.lock -r runtime.txt

COPY README.md ./
COPY storage ./storage
COPY monitoring ./monitoring
COPY collectors ./collectors
COPY dashboard ./dashboard
COPY sample_data ./sample_data
RUN pip install --no-cache-dir --no-deps .


FROM python:3.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    DO_NOT_TRACK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIGIL_CHROMIUM=/usr/bin/chromium

# Chromium prints PDF reports (collectors/report_pdf.py); nothing else in the image uses it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/vigil vigil \
    && mkdir -p /data \
    && chown vigil:vigil /data

COPY --from=build /opt/venv /opt/venv

USER 10001:10001
WORKDIR /home/vigil
VOLUME /data
EXPOSE 8501

# urllib, because the slim image has no curl; urlopen raises (exit 1) on any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/api/v1/health', timeout=4)"]

ENTRYPOINT ["vigil"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8501", "--db", "/data/vigil.duckdb"]
