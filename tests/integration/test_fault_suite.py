"""The fault suite on stacks of real processes (a Chroma server, Redis, a Celery worker and the
API under uvicorn, all killed or paused at will): after every fault the database, the audio
store and Chroma agree. The scenarios are evals/faults.py's, which also gives the figures; the
worker kill is in test_pipeline.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evals import faults as f
from tests.conftest import FIXTURES, assert_stores_agree
from workers import consistency

pytestmark = [pytest.mark.integration, pytest.mark.slow]
WORDS = ["zebrafin", "quokkavalve", "marmotgear"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[f.FaultStack]:
    """One stack per kind for the whole module, with a few indexed visits to search."""
    kind = request.param
    url = request.getfixturevalue("pg_database") if kind == "postgres" else None
    tmp = tmp_path_factory.mktemp(f"faults-{kind}")
    s = f.FaultStack.create(tmp, kind, database_url=url, stale_step_s=8)
    try:
        s.start(workers=1)
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def seeded(stack: f.FaultStack) -> dict[str, str]:
    return f.seed(stack, WORDS)


def test_chroma_killed_mid_indexing_loses_nothing(
    stack: f.FaultStack, seeded: dict[str, str]
) -> None:
    result = f.chroma_killed_while_indexing(stack, f"wombat{stack.kind}")
    assert result["status"] == "done", result
    assert result["lost_visits"] == [], result
    assert all(v in stack.search_hits(w) for w, v in seeded.items())
    assert_stores_agree(stack.settings)


def test_chroma_paused_answers_in_bounded_time_and_recovers(
    stack: f.FaultStack, seeded: dict[str, str]
) -> None:
    result = f.chroma_paused(stack, seeded)
    # search holds no copy of the index: with Chroma paused it answers 503 once Chroma's
    # timeout (30 s) has passed, and the deleted visit's vectors go once a worker reaches it
    assert result["search_status"] == 503 and result["search_s"] < 40, result
    assert result["health_status"] == 200, result
    assert result["delete_status"] == 204, result  # committed; vectors go once Chroma answers
    assert result["delete_s"] < 40, result  # the Chroma timeout (30 s) and some
    assert result["open_transactions"] == 0, result
    assert result["upload_during_pause"] == "done", result
    seeded.pop(next(iter(seeded)))  # deleted by the scenario
    assert_stores_agree(stack.settings)


def test_redis_restart_finishes_every_visit(stack: f.FaultStack) -> None:
    if stack.redis is None:
        pytest.skip("the embedded broker is a file: no server to restart")
    result = f.redis_restarted(stack, "lemurpipe")
    assert result["statuses"] == ["done", "done"], result
    assert_stores_agree(stack.settings)


def test_api_killed_during_uploads_keeps_each_upload_once(stack: f.FaultStack) -> None:
    result = f.api_restarted_during_uploads(stack, files=6)
    assert result["answered"] == result["uploads"], result
    assert (result["duplicates"], result["lost"], result["server_errors"]) == (0, 0, []), result
    stack.settle(timeout_s=120)
    found = stack.disagreements()  # a kill mid-request may leave its staged file or recording
    assert found.visits_without_file == frozenset(), found
    consistency.repair(stack.settings, stack.sessions, older_than_s=0)
    assert_stores_agree(stack.settings)


def test_deleting_during_every_step_leaves_nothing(stack: f.FaultStack) -> None:
    result = f.delete_during_steps(
        stack,
        [
            FIXTURES / "zh_short.mp3",
            FIXTURES / "en_short.mp3",
            FIXTURES / "rep_voice_zh.mp3",
            FIXTURES / "en_one_speaker.mp3",
        ],
    )
    assert result["rows_left"] == 0 and result["steps_crashed"] == 0, result
    assert result["deleted_while_running"]["transcribe"], result
    assert_stores_agree(stack.settings)
