"""Schemathesis against the sender's own OpenAPI document, with every one of its checks.

``positive_data_acceptance`` fails when the API refuses a request the document allows, and
``negative_data_rejection`` when it takes one the document forbids: together they hold the
document to exactly what the API takes. Bounded examples per operation; slow-marked (about
30-60 s on a loaded machine).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, CheckContext, load_all_checks
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import positive_data_acceptance

from whsim.sender import SenderConfig, create_app
from whsim.sender.jobstore import JobStore
from whsim.sender.openapi import openapi_document
from whsim.sender.source import MAX_STEPS
from whsim.serve import ServerThread

pytestmark = pytest.mark.slow

load_all_checks()
ALL_CHECKS = CHECKS.get_all()


CONFIG = SenderConfig(time_scale=50.0)
SEEDED_PROPOSALS = ("prop_seeded_one", "prop_seeded_two", "prop_seeded_three")


def _document() -> dict[str, Any]:
    """The sender's document, its ``JobCreate.proposal_id`` narrowed to the seeded proposals.

    POST /api/jobs takes only the id of a proposal made before, which is state, not shape: a
    stateless run draws from proposals the fixture stores first; the rest of the document is
    the one the sender serves. Any other id is still a negative case the API must refuse.
    """
    document = openapi_document(CONFIG)
    job = document["components"]["schemas"]["JobCreate"]
    job["properties"]["proposal_id"] = {"type": "string", "enum": list(SEEDED_PROPOSALS)}
    return document


schema = schemathesis.openapi.from_dict(_document())


def breaks_job_constraint(case: schemathesis.Case) -> bool:
    """A ``POST /api/jobs`` body with ``fail_at_step > steps``: schema-valid, refused by the API.

    JSON Schema cannot state that rule (the document names it in ``x-whsim-constraints``, see
    ``JobCreate`` in whsim.sender.openapi), so schemathesis generates such bodies as positive
    data; tests/sender/test_sender_bad_input.py checks that the API refuses them.
    """
    body = case.body
    if (case.method.upper(), case.path) != ("POST", "/api/jobs") or not isinstance(body, dict):
        return False
    steps, fail_at = body.get("steps"), body.get("fail_at_step")
    in_range = all(
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and float(v).is_integer()
        and 1 <= v <= MAX_STEPS
        for v in (steps, fail_at)
    )  # else the body is negative data for another reason: schemathesis' own checks judge it
    return in_range and fail_at > steps  # type: ignore[operator]


def positive_data_acceptance_with_constraints(
    ctx: CheckContext, response: Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' own check, which also knows the document's ``x-whsim-constraints``."""
    if breaks_job_constraint(case):
        assert response.status_code == 422, response.text  # refused, naming the field
        assert response.json()["error"]["details"]["field"] == "fail_at_step", response.text
        return None
    return positive_data_acceptance(ctx, response, case)


CHECKS_USED = [
    positive_data_acceptance_with_constraints if check is positive_data_acceptance else check
    for check in ALL_CHECKS
]


@pytest.fixture(scope="module")
def sender_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Generated webhook urls name arbitrary hosts; the sender (in this process) resolves every
    # name to loopback, so its verification requests never leave the machine.
    real = socket.getaddrinfo

    def loopback(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1", *args, **kwargs)

    socket.getaddrinfo = loopback  # type: ignore[assignment]
    config = dataclasses.replace(CONFIG, db_path=Path(tmp_path_factory.mktemp("st")) / "s.db")
    seeds = JobStore(config.db_path, synchronous="NORMAL")
    for proposal_id in SEEDED_PROPOSALS:
        seeds.insert_proposal(proposal_id, "seeded", "2026-01-01T00:00:00.000Z")
    seeds.close()
    try:
        with ServerThread(create_app(config), lifespan="on") as url:
            yield url
    finally:
        socket.getaddrinfo = real


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_does_what_its_document_says(case: schemathesis.Case, sender_url: str) -> None:
    case.call_and_validate(base_url=sender_url, checks=CHECKS_USED, timeout=10)
