"""`visitlens reanalyse`: finished visits go through analysis and indexing again on the worker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, env_of, make_stack

pytestmark = [pytest.mark.integration]


def _attempts(visit: dict[str, Any]) -> dict[str, int]:
    return {s["step"]: s["attempts"] for s in visit["steps"]}


def test_reanalyse_runs_analysis_and_indexing_again(tmp_path: Path, chroma_url: str) -> None:
    stack = make_stack(tmp_path, "embedded", chroma_url=chroma_url)
    try:
        stack.start_worker()
        transcript = tmp_path / "visit.txt"
        transcript.write_text(
            "Rep: What slows your team down today?\n"
            "Customer: Every purchase order needs five signatures, it takes two weeks.\n",
            encoding="utf-8",
        )
        visit_id = stack.upload(transcript, language="en").json()["id"]
        before = stack.wait(visit_id, timeout=120)
        assert before["status"] == "done"

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [str(Path(sys.executable).parent / "visitlens"), "reanalyse", *args],
                cwd=ROOT,
                env=env_of(stack.settings),
                capture_output=True,
                text=True,
                timeout=120,
            )

        unknown = cli("no-such-visit")
        assert unknown.returncode == 2 and "no-such-visit" in unknown.stderr

        done = cli()
        assert done.returncode == 0, done.stderr
        assert "1 visits queued" in done.stdout
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            after = stack.client.get(f"/api/visits/{visit_id}").json()
            if after["status"] == "done" and _attempts(after)["index"] == 2:
                break
            time.sleep(0.5)
        expected = _attempts(before) | {"analyse": 2, "index": 2}  # the steps before stay as run
        assert _attempts(after) == expected
        assert stack.client.get(f"/api/visits/{visit_id}/analysis").status_code == 200
    finally:
        stack.stop()
        stack.client.__exit__(None, None, None)
