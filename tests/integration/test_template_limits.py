"""Message templates have an output limit that holds while rendering, not only after it.

Each hostile template is rendered for real and refused with the field named, having used a
few megabytes at most: without the limits each of them builds gigabytes (or, for `**`, a
number that takes hours) in the worker that renders it.
"""

from __future__ import annotations

import tracemalloc

import pytest

from services.outreach import templating
from shared import db
from shared.auth import create_user
from tests.integration.test_outreach import create, messages
from tests.integration.test_outreach import outreach as outreach  # noqa: F401 (fixture)
from tests.integration.test_outreach import quiet_free as quiet_free  # noqa: F401 (fixture)
from tests.integration.test_web_access import csrf_of, login

CONTEXT = {"name": "Ani", "program": "Las", "cohort": "A1", "survey_link": "L",
           "unsubscribe_link": "U", "wave_title": "T", "centre": "BLK"}
BOMBS = (
    "{{ 'x' * 10**9 }}",
    "{{ name * 10**9 }}",
    "{{ 10**9 * name }}",
    "{{ name * 60000 + name * 60000 }}",
    "{{ 'x' * 60000 }}{{ 'x' * 60000 }}",
    "{% for a in 'x' * 60000 %}{% for b in 'x' * 60000 %}{{ b }}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 60000 %}{% if (a ~ a)|replace('x', 'yy') %}{% endif %}{% endfor %}",
    "{% set a = 'x' * 60000 %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a|length }}",
    "{% set a %}{% for c in 'x' * 60000 %}{{ 'y' * 60000 }}{% endfor %}{% endset %}{{ a }}",
    "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m(name) }}",
    "{% filter upper %}{% for c in 'x' * 60000 %}{{ 'y' * 60000 }}{% endfor %}{% endfilter %}",
    "{{ name|replace('', 'x' * 60000) }}",
    "{{ ['x' * 60000, 'x' * 60000]|join('y') }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(name) }}",
    "{{ name.center(999999999) }}",
    "{{ name|center(999999999) }}",
    "{{ 10**10**10 }}",
    "{{ 7**100000 }}",
    "{{ (10**30) * (10**30) * (10**30) }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    # Small in memory, huge as text: many references to one long string.
    "{% set s = 'x' * 65536 %}{{ [s] * 60000 }}",
    "{% set s = 'x' * 65536 %}{{ ([s] * 60000)|join }}",
    "{% set s = 'x' * 65536 %}{{ ([s] * 60000)|upper }}",
    "{% set s = 'x' * 65536 %}{{ 'a' ~ [s] * 60000 }}",
    "{% set s = 'x' * 65536 %}{{ [[s] * 60000] * 60000 }}",
    "{% set s = 'x' * 65536 %}{{ [s, s, s] }}",
)


@pytest.mark.parametrize("source", BOMBS)
def test_a_template_that_would_grow_without_bound_is_refused_while_rendering(source) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(templating.TemplateProblem) as refused:
            templating.render({"id": {"subject": "s", "body": source}}, "id", CONTEXT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(refused.value).startswith("id.body: "), refused.value
    assert peak < 8 * 1024 * 1024, f"{peak} bytes while refusing {source}"


def test_the_limit_names_the_field_and_the_size_in_the_page_language(outreach_app) -> None:
    template = {"id": {"subject": "Halo", "body": "ok"},
                "en": {"subject": "{{ 'x' * 70000 }}", "body": "ok"}}
    with pytest.raises(templating.TemplateProblem, match="^en.subject: .*65536 characters"):
        templating.render(template, "en", CONTEXT)  # outside a request: as written
    with outreach_app.test_request_context("/?lang=id"), pytest.raises(
            templating.TemplateProblem, match="^en.subject: .*65536 karakter"):
        templating.render(template, "en", CONTEXT)


def test_up_to_the_limit_a_template_still_renders() -> None:
    rendered = templating.render(
        {"id": {"body": "{{ name * 1000 }}{% for c in 'abc' %}{{ c|upper }}{% endfor %}"}},
        "id", CONTEXT)
    assert rendered.body == "Ani" * 1000 + "ABC"
    at_limit = templating.render({"id": {"body": "{{ 'x' * 65536 }}"}}, "id", CONTEXT)
    assert len(at_limit.body) == templating.MAX_RENDERED
    assert templating.render({"id": {"body": "{{ name|title }} {{ 2**10 }}"}}, "id",
                             CONTEXT).body == "Ani 1024"


def test_preview_and_launch_refuse_a_template_over_the_limit(outreach, survey) -> None:
    client = outreach.test_client()
    created = create(client, survey, steps=[{
        "day_offset": 0, "channel": "sms",
        "template": {"id": {"body": "{% for c in 'x' * 100 %}"
                            "{{ name * 1000 }}{% endfor %}"}}}])
    campaign_id = created.get_json()["id"]
    headers = survey["headers"]["operator"]
    preview = client.get(f"/api/v1/campaigns/{campaign_id}/preview?lang=en", headers=headers)
    assert preview.status_code == 200
    assert preview.get_json()["steps"][0]["error"].startswith("id.body: the message would be "
                                                              "longer than 65536 characters")
    launch = client.post(f"/api/v1/campaigns/{campaign_id}/launch?lang=en", headers=headers)
    assert launch.status_code == 422
    assert "id.body: the message would be longer than 65536" in launch.get_json()["detail"]
    assert messages(outreach) == []
    launch_id = client.post(f"/api/v1/campaigns/{campaign_id}/launch?lang=id", headers=headers)
    assert launch_id.get_json()["detail"].startswith(
        "5 pesan akan gagal; yang pertama: langkah 1 untuk Alumnus 0 (sms): id.body: pesan akan "
        "lebih panjang dari 65536 karakter")


def test_the_campaign_page_shows_the_refusal_in_indonesian(outreach, survey) -> None:
    client = outreach.test_client()
    created = create(client, survey, steps=[{
        "day_offset": 0, "channel": "sms", "template": {"id": {"body": "{{ name * 10**9 }}"}}}])
    with outreach.app_context():
        create_user(db.session(), "adi", "kata-sandi-adi", "operator")
        db.session().commit()
    assert login(client, "adi", "kata-sandi-adi").status_code == 302
    page = client.get(f"/campaigns/{created.get_json()['id']}")
    assert page.status_code == 200
    assert "id.body: pesan akan lebih panjang dari 65536 karakter" in page.get_data(as_text=True)
    launched = client.post(f"/campaigns/{created.get_json()['id']}/launch", data={
        "csrf_token": csrf_of(page.get_data(as_text=True))}, follow_redirects=True)
    assert "5 pesan akan gagal" in launched.get_data(as_text=True)
    assert messages(outreach) == []


def test_template_sources_are_bounded_too(outreach, survey) -> None:
    client = outreach.test_client()
    refused = create(client, survey, steps=[{
        "day_offset": 0, "channel": "email",
        "template": {"id": {"subject": "x" * 1001, "body": "ok"}}}])
    assert refused.status_code == 422
    assert "subject" in refused.get_json()["errors"]["steps"]["0"]["template"]["id"]["value"]
