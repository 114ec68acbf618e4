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
from schemathesis.checks import CHECKS, load_all_checks

from whsim.sender import SenderConfig, create_app
from whsim.sender.jobstore import JobStore
from whsim.sender.openapi import openapi_document
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
    case.call_and_validate(base_url=sender_url, checks=ALL_CHECKS, timeout=10)
