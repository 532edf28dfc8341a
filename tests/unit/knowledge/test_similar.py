import numpy as np
import pytest

from knowledge.search_types import UtteranceDoc, VisitDoc
from knowledge.similar import (
    CaseProfile,
    profile_from_text,
    profile_from_visit,
    similar_visits,
)

DIM = 6


def axis(i, noise=0.0, seed=0):
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    v += noise * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def visit_profile(visit_id, quotes, *, industry="", segment="", summary_axis=None):
    """quotes: [(text, labels, axis)] of customer utterances."""
    visit = VisitDoc(visit_id=visit_id, industry=industry, segment=segment, outcome="won")
    utts = [
        UtteranceDoc(
            visit_id=visit_id,
            index=i,
            start=5.0 * i,
            end=5.0 * i + 4,
            text=text,
            role="customer",
            labels=labels,
        )
        for i, (text, labels, _) in enumerate(quotes)
    ]
    utts.append(
        UtteranceDoc(
            visit_id=visit_id,
            index=len(quotes),
            start=0,
            end=1,
            text="Thanks for coming",
            role="rep",
        )
    )
    vectors = np.stack([axis(a, 0.05, seed=i) for i, (_, _, a) in enumerate(quotes)] + [axis(5)])
    summary = None if summary_axis is None else axis(summary_axis)
    return profile_from_visit(visit, utts, vectors, summary)


@pytest.fixture
def pool():
    return [
        visit_profile(
            "slow-service",
            [("engineer took a week", ["pain.service"], 0), ("we may switch", [], 1)],
            industry="medical",
        ),
        visit_profile("price-fight", [("rival is cheaper", ["pain.price"], 2)]),
        visit_profile(
            "slow-service-2", [("nobody came for days", ["pain.service"], 0)], industry="medical"
        ),
        visit_profile("data-silos", [("two systems do not talk", ["pain.integration"], 3)]),
    ]


def test_profile_from_visit_keeps_labelled_customer_quotes_only(pool):
    profile = pool[0]
    assert profile.quotes == ["engineer took a week"]
    assert profile.labels == ["pain.service"]
    assert profile.quote_vectors.shape == (1, DIM)
    assert profile.quote_docs[0].start == 0.0


def test_visit_sharing_labels_and_quotes_ranks_first_with_reasons(pool):
    cases = similar_visits(pool[0], pool, limit=3)
    top = cases[0]
    assert top.visit.visit_id == "slow-service-2"
    assert top.shared_labels == ["pain.service"]
    assert top.quote_pairs[0].target == "engineer took a week"
    assert top.quote_pairs[0].candidate == "nobody came for days"
    assert top.quote_pairs[0].candidate_start == 0.0
    assert top.same_industry


def test_the_target_visit_is_not_its_own_similar_case(pool):
    assert "slow-service" not in [c.visit.visit_id for c in similar_visits(pool[0], pool)]


def test_limit_caps_the_number_of_cases(pool):
    assert len(similar_visits(pool[0], pool, limit=2)) == 2


def test_free_text_with_given_labels_finds_the_matching_visits(pool):
    target = profile_from_text("support is slow", axis(0, 0.1, 7), labels=["pain.service"])
    ids = [c.visit.visit_id for c in similar_visits(target, pool, limit=2)]
    assert set(ids) == {"slow-service", "slow-service-2"}


def test_rare_shared_labels_weigh_more_than_common_ones():
    common = ["pain.price"]
    pool = [
        CaseProfile(
            labels=common,
            quotes=[],
            quote_vectors=np.zeros((0, DIM), np.float32),
            visit=VisitDoc(visit_id=f"c{i}"),
        )
        for i in range(5)
    ]
    rare = CaseProfile(
        labels=["pain.compliance"],
        quotes=[],
        quote_vectors=np.zeros((0, DIM), np.float32),
        visit=VisitDoc(visit_id="r"),
    )
    target = CaseProfile(
        labels=["pain.price", "pain.compliance"],
        quotes=[],
        quote_vectors=np.zeros((0, DIM), np.float32),
    )
    assert similar_visits(target, [*pool, rare], limit=1)[0].visit.visit_id == "r"


def test_another_upload_of_the_same_recording_is_never_a_similar_case():
    quotes = [
        ("engineer took a week", ["pain.service"], 0),
        ("the invoice was wrong twice", ["pain.price"], 2),
        ("we may switch next year", ["risk.churn"], 3),
    ]
    target = visit_profile("mine", quotes)
    again = visit_profile("mine-reuploaded", quotes)
    other = visit_profile("other", [(t, labels, (a + 1) % 5) for t, labels, a in quotes])
    cases = similar_visits(target, [target, again, other])
    assert [c.visit.visit_id for c in cases] == ["other"]
