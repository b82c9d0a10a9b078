# syntax=docker/dockerfile:1
#
# One image for every role: web (`serve`, the default), `worker` and `beat`; docker-compose.yml
# picks the role with `command:`. Secrets never go in here: SYNDICATION_SECRET_KEY,
# SYNDICATION_API_TOKEN, SYNDICATION_REDIS_URL and SYNDICATION_SMTP_URL come from the
# environment at run time. The publisher's identity is /etc/syndication/syndication.toml
# (the InSight Crime example by default): mount your own file over it.
#
#   docker build -t syndication .
#   docker run --rm syndication --help

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# build: wheels for the dependencies, then for the project (non-editable: the templates/ folder
# is force-included into the wheel as syndication/templates, see pyproject.toml). Every
# dependency comes from requirements.lock (`make lock`): pinned, its hashes checked, nothing
# resolved; the build backend too, so the project's wheel is built without an isolated build
# environment that would fetch an unpinned hatchling.
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A compiler only for dependencies that have no wheel for this platform (arm64, say);
# none of it reaches the final image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, from the lock alone, so a source change does not rebuild them. The
# backend (hatchling, in the lock too) is installed from those checked wheels.
COPY requirements.lock ./
RUN pip wheel --require-hashes --no-deps --wheel-dir /wheels -r requirements.lock \
    && pip install --no-index --find-links=/wheels hatchling

COPY pyproject.toml README.md ./
COPY syndication ./syndication
COPY workers ./workers
COPY templates ./templates
RUN pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /wheels .

# ---------------------------------------------------------------------------------------------
# runtime: the wheels installed (not the source tree), run as an unprivileged user.
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SYNDICATION_CONFIG=/etc/syndication/syndication.toml

RUN groupadd --system --gid 10001 syndication \
    && useradd --system --uid 10001 --gid syndication --home-dir /home/syndication \
        --create-home --shell /usr/sbin/nologin syndication \
    && mkdir -p /data /etc/syndication \
    && chown syndication:syndication /data

# The wheels are bind-mounted from the build stage, so they never become a layer here. Only
# those wheels are there to choose from (the locked versions, checked), and only what the
# project needs is installed: not the build backend.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels syndication \
    && syndication --help > /dev/null

# Default publisher config; operators mount their own syndication.toml over this path.
COPY examples/insightcrime.toml /etc/syndication/syndication.toml

# /data: beat's schedule file (a named volume in docker-compose.yml keeps it across restarts).
WORKDIR /home/syndication
USER 10001:10001

EXPOSE 8000

# For the web role. Worker and beat serve no HTTP: docker-compose.yml overrides this for them.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz/web', timeout=4).status != 200)"]

ENTRYPOINT ["syndication"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
