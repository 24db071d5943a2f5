from __future__ import annotations

from flask import Flask

from shared.auth import (
    Principal,
    access_of,
    hash_password,
    public,
    requires,
    token_digest,
    verify_password,
)


def test_passwords_are_argon2_and_verify() -> None:
    stored = hash_password("rahasia-123")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "rahasia-123")
    assert not verify_password(stored, "rahasia-124")
    assert not verify_password("not-a-hash", "x")


def test_roles_are_ordered_viewer_operator_admin() -> None:
    admin, operator, viewer = (Principal("a", r) for r in ("admin", "operator", "viewer"))
    assert admin.may("operator") and admin.may("viewer")
    assert operator.may("viewer") and not operator.may("admin")
    assert not viewer.may("operator")


def test_undeclared_routes_are_closed_by_default() -> None:
    app = Flask(__name__)

    @app.route("/open")
    @public
    def open_view() -> str:
        return ""

    @app.route("/ops")
    @requires("operator")
    def ops_view() -> str:
        return ""

    @app.route("/forgotten")
    def forgotten_view() -> str:
        return ""

    assert access_of(app, "open_view", "GET") == "public"
    assert access_of(app, "ops_view", "GET") == "operator"
    assert access_of(app, "forgotten_view", "GET") == "admin"


def test_token_digest_is_stable_and_not_the_token() -> None:
    assert token_digest("jk_abc") == token_digest("jk_abc")
    assert "jk_abc" not in token_digest("jk_abc")
