"""The analytics service (docs/architecture.md §1)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.web import create_api, create_service_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from services.analytics import api as indicators_api
    from services.analytics import employer_api, exports_api, settings_api

    app = create_service_app("analytics", __name__, config, home_page=False)
    api = create_api(app)
    api.register_blueprint(indicators_api.blp)
    api.register_blueprint(exports_api.blp)
    api.register_blueprint(settings_api.blp)
    api.register_blueprint(employer_api.blp)
    from services.analytics import dashboard

    app.register_blueprint(dashboard.bp)
    from services.analytics import staff_pages

    app.register_blueprint(staff_pages.bp)
    from services.analytics import indicator_cache, warmup

    cache = indicator_cache.install(app)
    if warmup.wanted(app):  # the first request after a restart finds its answer ready
        warmup.warm_in_background(app, cache)
    return app
