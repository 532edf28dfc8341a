"""Rep/customer roles from an enrolled voice print or from what each speaker says."""

from __future__ import annotations

import numpy as np

from nlp.roles import SpeakerEvidence, add_second_reps, assign_roles
from nlp.types import Segment
from nlp.vocabulary import Role


def _seg(start: float, speaker: str, text: str, language: str = "en") -> Segment:
    return Segment(start, start + 4.0, text, language=language, speaker=speaker)


EN_VISIT = [
    _seg(0, "S1", "Thanks for making time today. I'm with Northwind, we make packaging lines."),
    _seg(5, "S2", "Sure. Your last quote was high, honestly."),
    _seg(10, "S1", "Understood. How are you filling orders today?"),
    _seg(15, "S2", "By hand, mostly. Your system never talked to our ERP."),
    _seg(20, "S1", "What does the manual work cost you each week?"),
    _seg(25, "S2", "Two people, full time."),
    _seg(30, "S1", "We can offer a connector. I'll send a proposal by Friday."),
]

ZH_VISIT = [
    _seg(0, "S2", "王总您好，谢谢您抽时间见我，我是恒达科技的小李。", "zh"),
    _seg(5, "S1", "你好，坐吧。你们上次的报价太贵了。", "zh"),
    _seg(10, "S2", "明白。您这边现在的设备用得怎么样？", "zh"),
    _seg(15, "S1", "经常停机，你们的工程师来得也慢。", "zh"),
    _seg(20, "S2", "停机对生产有什么影响？我们可以提供备机，方案下周发给您。", "zh"),
]


def _unit(v: list[float]) -> np.ndarray:
    a = np.array(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_speaker_who_opens_asks_and_offers_is_inferred_rep() -> None:
    got = assign_roles(EN_VISIT, {}, language="en")
    assert got.roles == {"S1": "rep", "S2": "customer"}
    assert got.method == "inferred"
    assert 0.5 < got.confidence <= 1.0


def test_chinese_rep_is_inferred_even_when_labelled_second() -> None:
    got = assign_roles(ZH_VISIT, {}, language="zh")
    assert got.roles == {"S1": "customer", "S2": "rep"}


def test_matching_voice_print_decides_the_rep_against_the_text() -> None:
    embeddings = {"S1": _unit([1, 0, 0]), "S2": _unit([0.1, 1, 0])}
    got = assign_roles(EN_VISIT, embeddings, rep_voiceprint=_unit([0.05, 1, 0.02]))
    assert got.roles == {"S1": "customer", "S2": "rep"}
    assert got.method == "voiceprint"
    assert got.confidence > 0.5


def test_voice_print_that_matches_nobody_falls_back_to_inference() -> None:
    embeddings = {"S1": _unit([1, 0, 0]), "S2": _unit([0, 1, 0])}
    got = assign_roles(EN_VISIT, embeddings, rep_voiceprint=_unit([0, 0, 1]))
    assert got.method == "inferred"
    assert got.roles["S1"] == "rep"


def test_more_than_six_speakers_get_one_rep_and_customers() -> None:
    segs = [_seg(i * 5.0, f"S{i % 8 + 1}", "We had a long meeting.") for i in range(16)]
    segs.append(_seg(100, "S3", "How do you plan the rollout? We can offer training."))
    got = assign_roles(segs, {}, language="en")
    assert len(got.roles) == 8
    assert [s for s, r in got.roles.items() if r == "rep"] == ["S3"]


def test_one_speaker_and_no_speakers_do_not_crash() -> None:
    one = assign_roles([_seg(0, "S1", "How are sales this quarter? We can help.")], {})
    assert one.roles == {"S1": "rep"}
    assert one.confidence <= 0.5
    assert assign_roles([], {}).roles == {}


TWO_REPS_VISIT = [
    _seg(0, "S1", "Thanks for having us. We can show you our product today."),
    _seg(5, "S3", "Welcome. Honestly, our budget is tight this year."),
    _seg(10, "S2", "We can offer a trial, and our engineer will set it up for you."),
    _seg(15, "S4", "How long does the install take?"),
    _seg(20, "S1", "What does a stoppage cost you today?"),
    _seg(25, "S2", "We provide the parts at no charge during the trial."),
    _seg(30, "S4", "We need it before the audit. Your price was high last time."),
]


def test_a_second_speaker_who_pitches_is_a_rep_too() -> None:
    got = assign_roles(TWO_REPS_VISIT, {}, language="en")
    assert got.roles == {"S1": "rep", "S2": "rep", "S3": "customer", "S4": "customer"}


def test_two_speakers_never_give_two_reps() -> None:
    segs = [
        _seg(0, "S1", "Thanks for making time. We can offer a discount."),
        _seg(5, "S2", "We can offer you a slot, and we can talk about the quote later."),
    ]
    assert sorted(assign_roles(segs, {}, language="en").roles.values()) == ["customer", "rep"]


def test_three_speakers_who_all_pitch_keep_one_customer() -> None:
    segs = [_seg(i * 5.0, f"S{i + 1}", "We can offer a proposal for you.") for i in range(3)]
    assert list(assign_roles(segs, {}, language="en").roles.values()).count("customer") == 1


def test_on_a_tie_the_speaker_who_does_not_pitch_stays_the_customer() -> None:
    # the second rep only offers; the buyer asks once and offers once: the same score
    evidence = {
        "S1": SpeakerEvidence(questions=5, rep_cues=6, opens=True),
        "S2": SpeakerEvidence(rep_cues=2),
        "S3": SpeakerEvidence(questions=1, rep_cues=1),
    }
    by_talk = {"S1": Role.REP, "S2": Role.CUSTOMER, "S3": Role.CUSTOMER}
    roles = add_second_reps(by_talk, evidence)
    assert roles == {"S1": "rep", "S2": "rep", "S3": "customer"}


def test_a_voice_close_to_the_print_but_well_below_the_rep_stays_a_customer() -> None:
    # synthetic voices sound alike: both clusters pass SAME_REP_COS, only the rep matches closely
    vp = _unit([1, 0, 0])
    embeddings = {"S1": _unit([1, 0.1, 0]), "S2": _unit([1, 0.45, 0])}
    got = assign_roles(EN_VISIT, embeddings, rep_voiceprint=vp)
    assert got.roles == {"S1": "rep", "S2": "customer"}


def test_two_halves_of_the_rep_voice_are_both_rep() -> None:
    vp = _unit([1, 0, 0])
    embeddings = {"S1": _unit([1, 0.2, 0]), "S2": _unit([0, 1, 0]), "S3": _unit([1, 0.22, 0])}
    got = assign_roles(EN_VISIT, embeddings, rep_voiceprint=vp)
    assert got.roles == {"S1": "rep", "S2": "customer", "S3": "rep"}
