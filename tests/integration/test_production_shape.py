"""The production shape without Docker: PostgreSQL, Redis, a Chroma server, two API processes on
different ports (as behind a load balancer) and two workers, each its own process. A visit
uploaded through one API is searchable and deletable through the other, and a worker killed
mid-step costs nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evals import faults as f
from tests.conftest import FIXTURES, assert_stores_agree
from workers import consistency

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[f.FaultStack]:
    s = f.FaultStack.create(
        tmp_path_factory.mktemp("production"), "postgres", database_url=pg_database, stale_step_s=8
    )
    try:
        s.start(workers=2)
        yield s
    finally:
        s.stop()


def test_two_api_processes_share_every_visit_and_survive_a_worker_kill(
    stack: f.FaultStack,
) -> None:
    other = stack.start_api(f.free_port())

    killed = f.kill_worker_mid_transcription(stack, Path(FIXTURES / "zh_short.mp3"))
    assert killed["status"] == "done" and killed["attempts"] >= 2, killed
    assert killed["duplicate_segments"] == 0 and killed["ordered"], killed
    with stack.client(url=other) as b:
        seen = b.get(f"/api/visits/{killed['visit_id']}")
        assert seen.status_code == 200 and seen.json()["status"] == "done", seen.text
        segments = b.get(f"/api/visits/{killed['visit_id']}/transcript").json()["segments"]
        assert len(segments) == killed["segments"]

    word = "okapiframe"
    visit_id = f.seed(stack, [word])[word]  # uploaded and found through the first API
    f.wait_for(
        lambda: visit_id in stack.search_hits(word, url=other),
        timeout_s=30,
        what="the visit searchable through the second API",
    )
    with stack.client(url=other) as b:
        assert b.delete(f"/api/visits/{visit_id}").status_code == 204
    with stack.client() as a:
        gone = a.get(f"/api/visits/{visit_id}")
        assert gone.status_code == 404, gone.text
        assert gone.json()["error"]["code"] == "visit_not_found"
    f.wait_for(
        lambda: (
            visit_id not in stack.search_hits(word)
            and visit_id not in stack.search_hits(word, url=other)
        ),
        timeout_s=30,
        what="the deleted visit gone from both APIs' search",
    )
    stack.settle(timeout_s=120)
    # the killed worker's decrypted copy had no name on disk: only its empty folder is left,
    # which the hourly reconciliation removes
    leftovers = stack.disagreements().leftovers
    assert [p for x in leftovers for p in [x, *x.rglob("*")] if p.is_file()] == [], leftovers
    consistency.repair(stack.settings, stack.sessions, older_than_s=0)
    assert_stores_agree(stack.settings)
