"""The outreach service: invitations and reminders by email, SMS and WhatsApp, opt-out."""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.web import create_api, create_service_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    from services.outreach import employer_web, web
    from services.outreach.api import campaigns

    app = create_service_app("outreach", __name__, config, home_page=False)
    api = create_api(app)
    api.register_blueprint(campaigns.blp)
    app.register_blueprint(web.bp)
    app.register_blueprint(employer_web.bp)
    return app
