"""The analytics service (DESIGN.md §1)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.web import create_api, create_service_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = create_service_app("analytics", __name__, config)
    create_api(app)
    return app
