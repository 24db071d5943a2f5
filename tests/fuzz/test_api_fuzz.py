"""Every operation of every service's OpenAPI document, fuzzed with an admin token.

What must hold whatever the input: no 5xx, and every 4xx is problem+json with type, title
and status (docs/architecture.md §4). Cases are valid and invalid (schemathesis's positive and
negative modes). Bounded: a few examples per operation, no deadline (the machine is shared;
timing is not what this tests), no shrinking (the failing request is printed as curl).

schemathesis's own pytest plugin (`from_fixture`) does not run under pytest 9, so each test
walks the operations itself and drives each one's Hypothesis strategy.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

MAX_EXAMPLES = int(os.environ.get("JEJAK_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
    derandomize=True,  # the same cases every run: a red build is reproducible
    database=None,
)


def problem_json_on_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx answers application/problem+json with type, title and status."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(
            f"{response.status_code} answered {content_type!r}, not application/problem+json"
        )
    body = response.json()
    missing = [key for key in ("type", "title", "status") if key not in body]
    if missing:
        raise AssertionError(f"problem+json body lacks {missing}: {body}")
    if body["status"] != response.status_code:
        raise AssertionError(f"status {body['status']} in the body, {response.status_code} sent")
    return True


problem_json_on_4xx = schemathesis.check(problem_json_on_4xx)
CHECKS = [not_a_server_error, problem_json_on_4xx]


def fuzz_operation(operation: Any, headers: dict[str, str]) -> tuple[str | None, set[int]]:
    """Run one operation's valid and invalid cases: (what broke or None, statuses seen)."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    last_case: list[Any] = []
    statuses: set[int] = set()

    @FUZZ
    @given(case=cases)
    def run(case: Any) -> None:
        last_case[:] = [case]
        statuses.add(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    try:
        run()
    except Exception as exc:  # reported with the request that broke it
        curl = last_case[0].as_curl_command(headers=headers) if last_case else ""
        return f"{operation.label}: {str(exc).strip()[:1500]}\n    {curl}", statuses
    return None, statuses


def fuzz_every_operation(schema: Any, headers: dict[str, str]) -> None:
    failures: list[str] = []
    locked_out: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operation"
    for operation in operations:  # all of them: one red run names every broken operation
        failure, statuses = fuzz_operation(operation, headers)
        if failure:
            failures.append(failure)
        if statuses <= {401, 403}:
            locked_out.append(operation.label)
    if failures:
        pytest.fail(f"{len(failures)} operation(s) broke:\n\n" + "\n\n".join(failures))
    # Fuzzing only the guard proves nothing: the admin token must get past it.
    assert not locked_out, f"only 401/403 (or nothing) answered: {locked_out}"


def test_survey_api(survey_schema, seeded) -> None:
    fuzz_every_operation(survey_schema, seeded["headers"]["admin"])


def test_outreach_api(outreach_schema, seeded) -> None:
    fuzz_every_operation(outreach_schema, seeded["headers"]["admin"])


def test_analytics_api(analytics_schema, seeded) -> None:
    fuzz_every_operation(analytics_schema, seeded["headers"]["admin"])
