from datetime import date

import numpy as np
import pytest

from knowledge.ranking import SearchIndex
from knowledge.search_text import (
    LabelExamples,
    VisitFeatureText,
    feature_sentences,
    highlight,
    read_visit_features,
    utterance_embedding_texts,
    visit_embedding_text,
)
from knowledge.search_types import (
    VISIT_FEATURES,
    FusionWeights,
    InvalidFilter,
    InvalidQuery,
    SearchFilters,
    UtteranceDoc,
    VisitDoc,
)
from nlp.labels import SHIPPED_PROMPTS, load_labels
from nlp.vocabulary import Role

DIM = 8


def axis(i, noise=0.0, seed=0):
    """A unit vector along axis i, optionally nudged so ties break."""
    v = np.zeros(DIM, dtype=np.float32)
    v[i] = 1.0
    if noise:
        v += noise * np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def utt(visit_id, index, text, **kw):
    kw.setdefault("role", "customer")
    kw.setdefault("language", "en")
    return UtteranceDoc(
        visit_id=visit_id, index=index, start=index * 10.0, end=index * 10.0 + 8, text=text, **kw
    )


def small_index(**kw):
    index = SearchIndex(**kw)
    docs = [
        utt(
            "v1",
            0,
            "The printer jams every morning",
            labels=["pain.quality"],
            sentiment="negative",
            segment="strategic",
            rep="ann",
            visit_date=date(2026, 3, 2),
        ),
        utt(
            "v1",
            1,
            "Can you send the invoice again",
            labels=["need.price"],
            segment="strategic",
            rep="ann",
            visit_date=date(2026, 3, 2),
        ),
        utt(
            "v2",
            0,
            "Your engineer came a week late",
            labels=["pain.service"],
            sentiment="negative",
            segment="basic",
            rep="bob",
            visit_date=date(2026, 5, 9),
        ),
        utt(
            "v2",
            1,
            "Let me show you our new toner",
            role="rep",
            segment="basic",
            rep="bob",
            visit_date=date(2026, 5, 9),
        ),
        utt(
            "v3",
            0,
            "We like the new dashboard",
            sentiment="positive",
            segment="basic",
            rep="bob",
            visit_date=date(2026, 6, 1),
        ),
    ]
    vectors = np.stack([axis(0), axis(1), axis(2), axis(3), axis(4)])
    index.add(docs, vectors)
    return index


def test_dense_search_ranks_the_nearest_utterance_first():
    page = small_index().search("late engineer visit", axis(2), mode="dense")
    assert page.hits[0].doc.text == "Your engineer came a week late"
    assert page.hits[0].quote is page.hits[0].doc


def test_bm25_mode_returns_only_utterances_with_a_query_term():
    page = small_index().search("printer", axis(5), mode="bm25")
    assert [h.doc.text for h in page.hits] == ["The printer jams every morning"]
    assert page.total == 1


def test_hybrid_prefers_the_keyword_match_among_equally_close_vectors():
    index = SearchIndex()
    same = axis(0)
    index.add(
        [utt("a", 0, "the boiler leaks"), utt("b", 0, "the compressor leaks oil")],
        np.stack([same, same]),
    )
    page = index.search("compressor", same, mode="hybrid")
    assert page.hits[0].visit_id == "b"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (SearchFilters(label="pain.service"), {"v2:0"}),
        (SearchFilters(sentiment="negative"), {"v1:0", "v2:0"}),
        (SearchFilters(role="rep"), {"v2:1"}),
        (SearchFilters(segment="strategic"), {"v1:0", "v1:1"}),
        (SearchFilters(rep="bob", sentiment="positive"), {"v3:0"}),
        (SearchFilters(date_from=date(2026, 5, 1), date_to=date(2026, 5, 31)), {"v2:0", "v2:1"}),
        (SearchFilters(customer="nobody"), set()),
    ],
)
def test_filters_keep_only_matching_utterances(filters, expected):
    page = small_index().search("anything", axis(0), filters=filters, limit=50)
    assert {h.doc.id for h in page.hits} == expected
    assert page.total == len(expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("label", "pain.weather"),
        ("role", "boss"),
        ("sentiment", "angry"),
        ("segment", "gold"),
        ("risk", "risk.fire"),
    ],
)
def test_unknown_filter_values_raise_invalid_filter_naming_valid_values(field, value):
    with pytest.raises(InvalidFilter) as err:
        small_index().search("x", axis(0), filters=SearchFilters(**{field: value}))
    assert err.value.field == field
    assert err.value.value == value
    assert err.value.valid_values
    assert isinstance(err.value, ValueError)


def test_invalid_filter_for_role_lists_the_roles():
    with pytest.raises(InvalidFilter) as err:
        small_index().search("x", axis(0), filters=SearchFilters(role="boss"))
    assert err.value.valid_values == list(Role)
    assert "rep" in str(err.value)


def test_label_filter_accepts_every_taxonomy_label():
    index = small_index()
    for label in load_labels(SHIPPED_PROMPTS).need_pain_ids:
        index.search("x", axis(0), filters=SearchFilters(label=label))


@pytest.mark.parametrize("query", ["", "   ", "x" * 10_000])
def test_empty_or_huge_queries_raise_invalid_query(query):
    with pytest.raises(InvalidQuery):
        small_index().search(query, axis(0))


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (101, 0), (10, -1)])
def test_bad_page_parameters_raise_invalid_query(limit, offset):
    with pytest.raises(InvalidQuery):
        small_index().search("x", axis(0), limit=limit, offset=offset)


def test_unknown_kind_or_mode_raise_invalid_filter():
    with pytest.raises(InvalidFilter):
        small_index().search("x", axis(0), kind="clip")  # type: ignore[arg-type]
    with pytest.raises(InvalidFilter):
        small_index().search("x", axis(0), mode="magic")  # type: ignore[arg-type]


def test_pages_do_not_overlap_and_a_page_past_the_end_is_empty():
    index = small_index()
    first = index.search("x", axis(0), limit=2)
    second = index.search("x", axis(0), limit=2, offset=2)
    assert not {h.doc.id for h in first.hits} & {h.doc.id for h in second.hits}
    assert first.total == second.total == 5
    past = index.search("x", axis(0), limit=2, offset=10)
    assert past.hits == [] and past.total == 5


def test_adding_an_utterance_again_replaces_it():
    index = small_index()
    index.add([utt("v1", 0, "The printer is fixed now")], axis(0)[None])
    assert len(index) == 5
    page = index.search("printer", axis(0), mode="bm25")
    assert [h.doc.text for h in page.hits] == ["The printer is fixed now"]


def test_visit_kind_returns_visits_with_their_best_quote():
    index = small_index()
    index.add(
        [
            VisitDoc(visit_id="v1", title="Printer trouble", segment="strategic"),
            VisitDoc(visit_id="v2", title="Late engineer", segment="basic"),
        ],
        np.stack([axis(0), axis(2)]),
    )
    page = index.search("engineer was late", axis(2), kind="visit")
    assert [h.visit_id for h in page.hits] == ["v2", "v1"]
    top = page.hits[0]
    assert isinstance(top.doc, VisitDoc)
    assert top.quote is not None and top.quote.text == "Your engineer came a week late"
    assert top.quote.start == 0.0


def test_visit_kind_applies_visit_and_utterance_filters():
    index = small_index()
    index.add(
        [
            VisitDoc(visit_id="v1", segment="strategic"),
            VisitDoc(visit_id="v2", segment="basic"),
            VisitDoc(visit_id="v3", segment="basic"),
        ],
        np.stack([axis(0), axis(2), axis(4)]),
    )
    basic = index.search("x", axis(0), kind="visit", filters=SearchFilters(segment="basic"))
    assert {h.visit_id for h in basic.hits} == {"v2", "v3"}
    negative = index.search(
        "x", axis(0), kind="visit", filters=SearchFilters(sentiment="negative", segment="basic")
    )
    assert [h.visit_id for h in negative.hits] == ["v2"]
    assert negative.hits[0].quote is not None
    assert negative.hits[0].quote.sentiment == "negative"


def test_utterance_hits_spread_over_visits_rather_than_one_visit_first():
    docs = [utt("big", i, f"line {i}") for i in range(10)] + [utt("other", 0, "line x")]
    vectors = np.stack([axis(0, 0.02, seed=i) for i in range(10)] + [axis(0, 0.1, seed=99)])
    spread, clumped = SearchIndex(), SearchIndex(weights=FusionWeights(same_visit_penalty=0))
    for index in (spread, clumped):
        index.add(docs, vectors)
    visits = [h.visit_id for h in spread.search("line", axis(0), limit=5, mode="dense").hits]
    assert "other" in visits
    visits = [h.visit_id for h in clumped.search("line", axis(0), limit=5, mode="dense").hits]
    assert "other" not in visits


def test_label_examples_lift_utterances_carrying_the_query_label():
    examples = LabelExamples(
        vectors=np.stack([axis(6), axis(6, 0.1, 1)]), labels=[["pain.service"], ["pain.service"]]
    )
    index = SearchIndex(label_examples=examples)
    index.add(
        [
            utt("b", 0, "weather was nice"),  # first: it would win a tie
            utt("a", 0, "they never call back", labels=["pain.service"]),
        ],
        np.stack([axis(5), axis(5)]),  # equally far from the query: only the label tells
    )
    query = axis(6, 0.3, 3)
    assert index.search("support", query, mode="hybrid").hits[0].visit_id == "a"


def _described(**knobs):
    """Questioning described at both ends: high along axis 6, low along axis 7."""
    return VisitFeatureText(
        features=["questioning", "questioning"],
        signs=np.array([1.0, -1.0], dtype=np.float32),
        vectors=np.stack([axis(6), axis(7)]),
        **knobs,
    )


def _feature_index(**knobs):
    examples = LabelExamples(np.zeros((0, DIM), dtype=np.float32), [], _described(**knobs))
    index = SearchIndex(label_examples=examples)
    index.add(
        [
            VisitDoc(visit_id="good", question_quality=0.8),
            VisitDoc(visit_id="weak", question_quality=0.2),
            VisitDoc(visit_id="none"),
        ],
        np.stack([axis(0), axis(1, 0.2, 1), axis(2)]),
    )
    return index


def test_a_visit_query_leaning_to_weak_questioning_lifts_weak_visits():
    index = _feature_index(min_similarity=0.5, weight=0.5)
    asks_weak = axis(7, 0.3, 4) + 0.6 * axis(0)
    hits = index.search("rep only pitched", asks_weak, kind="visit").hits
    assert hits[0].visit_id == "weak"
    plain = index.search("rep only pitched", axis(0), kind="visit").hits
    assert plain[0].visit_id == "good"


def test_a_query_far_from_every_description_leans_nowhere():
    described = _described(min_similarity=0.5)
    assert described.preferences(axis(0)) == {}
    assert described.preferences(axis(7))["questioning"] < 0
    halfway = (axis(7) + axis(6)) / np.sqrt(2)
    assert described.preferences(halfway)["questioning"] == pytest.approx(0, abs=1e-6)


def test_visit_features_run_from_minus_one_to_one_and_zero_when_unknown():
    doc = VisitDoc(visit_id="v", question_quality=1.0, rep_talk_share=0.25, next_steps=0)
    values = {name: value(doc) for name, value in VISIT_FEATURES.items()}
    assert values == {"questioning": 1.0, "rep_talk": -0.5, "next_steps": -1.0, "outcome": 0.0}
    assert {value(VisitDoc(visit_id="v")) for value in VISIT_FEATURES.values()} == {0.0}


def test_feature_descriptions_come_from_prompts_and_reject_unknown_features(tmp_path):
    (tmp_path / "search.yaml").write_text(
        "weight: 0.2\nfeatures:\n  outcome:\n    high: [won, 赢单]\n    low: [lost]\n"
    )
    features, signs, texts, knobs = read_visit_features(tmp_path)
    assert features == ["outcome"] * 3 and signs == [1.0, 1.0, -1.0]
    assert texts == ["won", "赢单", "lost"] and knobs == {"weight": 0.2}
    assert feature_sentences(tmp_path) == {("outcome", 1.0): "won 赢单", ("outcome", -1.0): "lost"}
    (tmp_path / "search.yaml").write_text("features:\n  happy:\n    high: [x]\n")
    with pytest.raises(ValueError, match="outcome"):
        read_visit_features(tmp_path)
    assert read_visit_features(tmp_path / "missing") == ([], [], [], {})


def test_hits_highlight_query_terms_with_character_spans():
    page = small_index().search("printer jams", axis(0))
    hit = page.hits[0]
    assert hit.highlights == ["printer", "jam"]
    assert [hit.doc.text[s:e] for s, e in hit.spans] == ["printer", "jam"]


def test_highlight_merges_overlapping_spans_in_chinese():
    terms, spans = highlight("售后工程师来得太慢", ["工程", "工程师", "慢"])
    assert terms == ["工程", "工程师", "慢"]
    assert spans == [(2, 5), (8, 9)]


def test_query_vector_of_another_dimension_is_rejected():
    with pytest.raises(ValueError, match="dimensions"):
        small_index().search("printer", np.ones(DIM + 1, dtype=np.float32))


def test_visit_embedding_text_describes_only_strong_features():
    sentences = {("questioning", 1.0): "asks open questions", ("outcome", -1.0): "lost"}
    doc = VisitDoc(visit_id="v", summary="S", question_quality=0.8, outcome="lost")
    assert visit_embedding_text(doc, sentences) == "S\nasks open questions\nlost"
    middling = VisitDoc(visit_id="v", summary="S", question_quality=0.55)
    assert visit_embedding_text(middling, sentences) == "S"
    assert visit_embedding_text(doc) == "S"


def test_empty_index_answers_with_no_hits():
    page = SearchIndex().search("anything", axis(0))
    assert page.hits == [] and page.total == 0


def test_an_utterance_is_embedded_with_the_same_speakers_neighbouring_segments():
    docs = [
        utt("v1", 2, "nobody from your side called", role="customer"),
        utt("v1", 0, "how is it going?", role="rep"),
        utt("v2", 0, "elsewhere", role="customer"),
        utt("v1", 1, "our account manager left and for four months", role="customer"),
        utt("v1", 3, "I see.", role="rep"),
    ]
    assert utterance_embedding_texts(docs) == [
        "our account manager left and for four months nobody from your side called",
        "how is it going?",  # the next segment is another speaker's
        "elsewhere",  # another visit's segments are not its neighbours
        "our account manager left and for four months nobody from your side called",
        "I see.",
    ]


def test_a_query_sharing_no_word_and_far_in_meaning_is_told_no_close_matches():
    index = small_index()
    far = index.search("xyzzyqwerty", axis(DIM - 1))
    near = index.search("printer", axis(0))
    assert not far.close and near.close
    assert far.hits  # the nearest stay available to a user who asks for them


def test_the_same_words_said_in_two_visits_show_once():
    index = SearchIndex()
    docs = [utt("a", 0, "The printer jams."), utt("b", 0, "the printer jams"), utt("c", 0, "Toner")]
    index.add(docs, np.stack([axis(0), axis(0, 0.01, seed=1), axis(1)]))
    page = index.search("printer", axis(0), mode="dense")
    assert [h.visit_id for h in page.hits] == ["a", "c"]
    assert page.total == 2
