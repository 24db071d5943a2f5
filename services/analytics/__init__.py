"""The analytics service (docs/architecture.md §1)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.web import create_api, create_service_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from services.analytics import api as indicators_api
    from services.analytics import exports_api, settings_api

    app = create_service_app("analytics", __name__, config, home_page=False)
    api = create_api(app)
    api.register_blueprint(indicators_api.blp)
    api.register_blueprint(exports_api.blp)
    api.register_blueprint(settings_api.blp)
    from services.analytics import dashboard

    app.register_blueprint(dashboard.bp)
    from services.analytics import staff_pages

    app.register_blueprint(staff_pages.bp)
    from services.analytics import indicator_cache, snapshots
    from shared.db import get_db

    cache = indicator_cache.install(app)
    # The first indicators request after a restart finds the current snapshots parsed.
    # Not in tests (TESTING), which measure and clear the cache themselves.
    if app.config.get("JEJAK_WARM_INDICATORS", not app.testing):
        snapshots.warm_in_background(cache, get_db(app).session_factory)
    return app
