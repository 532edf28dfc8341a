"""Which diarized speaker is the sales rep: by enrolled voice print, else inferred from the talk."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nlp.questions import QuestionCues, find_question, load_cues, normalize
from nlp.types import Segment
from nlp.vocabulary import Role

VOICE_MATCH_COS = 0.70  # below this no speaker is taken to be the enrolled rep
SAME_REP_COS = 0.85  # a second cluster this close to the voice print is the rep too ...
# ... if also this close to the best match: another voice of a synthetic pair scored 0.06 below
# the rep, one voice split in two within 0.01 (evals/speakers renders)
SAME_REP_MARGIN = 0.03
SECOND_REP_MIN_CUES = 2  # with 3+ speakers, one who pitches this much and never talks as a buyer
QUESTION_WEIGHT = 1.0
REP_CUE_WEIGHT = 1.0
CUSTOMER_CUE_WEIGHT = 1.5
OPENER_WEIGHT = 2.0
CONFIDENCE_SCALE = 4.0  # score margin that gives confidence ~0.73


@dataclass
class SpeakerEvidence:
    """What the inference saw for one speaker: talk time, questions, cue counts."""

    speech_s: float = 0.0
    questions: int = 0
    rep_cues: int = 0
    customer_cues: int = 0
    opens: bool = False

    @property
    def score(self) -> float:
        """How rep-like the speaker sounds; higher is more rep-like."""
        return (
            QUESTION_WEIGHT * self.questions
            + REP_CUE_WEIGHT * self.rep_cues
            - CUSTOMER_CUE_WEIGHT * self.customer_cues
            + OPENER_WEIGHT * self.opens
        )


@dataclass
class RoleAssignment:
    """Role per speaker label, how sure (0..1) and whether a voice print decided it."""

    roles: dict[str, Role]
    confidence: float
    method: Literal["voiceprint", "inferred"]
    evidence: dict[str, SpeakerEvidence] = field(default_factory=dict)


def _count(text: str, cue: str, lang: str) -> int:
    if lang == "zh" or not cue[:1].isalpha():
        return text.count(cue)
    return len(re.findall(r"\b" + re.escape(cue) + r"\b", text))


def gather_evidence(
    segments: Sequence[Segment], language: str | None, cues: QuestionCues
) -> dict[str, SpeakerEvidence]:
    """Per speaker: speech seconds, question count and rep/customer cue counts over its text."""
    evidence: dict[str, SpeakerEvidence] = {}
    ordered = sorted((s for s in segments if s.speaker), key=lambda s: s.start)
    for seg in ordered:
        assert seg.speaker is not None
        ev = evidence.setdefault(seg.speaker, SpeakerEvidence())
        ev.speech_s += max(0.0, seg.end - seg.start)
        lang, text = normalize(seg.text, seg.language or language)
        ev.questions += find_question(seg.text, lang, cues) is not None
        ev.rep_cues += sum(_count(text, c, lang) for c in cues.rep_cues.get(lang, ()))
        ev.customer_cues += sum(_count(text, c, lang) for c in cues.customer_cues.get(lang, ()))
    if ordered and ordered[0].speaker:
        evidence[ordered[0].speaker].opens = True
    return evidence


def _by_voice(
    speaker_embeddings: dict[str, np.ndarray], rep_voiceprint: np.ndarray
) -> tuple[dict[str, Role], float] | None:
    vp = rep_voiceprint / max(float(np.linalg.norm(rep_voiceprint)), 1e-8)
    sims = {
        name: float(emb @ vp) / max(float(np.linalg.norm(emb)), 1e-8)
        for name, emb in speaker_embeddings.items()
    }
    if not sims:
        return None
    best = max(sims, key=lambda name: sims[name])
    if sims[best] < VOICE_MATCH_COS:
        return None
    roles: dict[str, Role] = {
        name: Role.REP
        if name == best or (sim >= SAME_REP_COS and sim >= sims[best] - SAME_REP_MARGIN)
        else Role.CUSTOMER
        for name, sim in sims.items()
    }
    others = [sim for name, sim in sims.items() if roles[name] != Role.REP]
    margin = sims[best] - max(others, default=0.0)
    confidence = min(1.0, max(0.0, (sims[best] - VOICE_MATCH_COS) / 0.2 + margin))
    return roles, round(min(1.0, confidence), 3)


def pitches(evidence: SpeakerEvidence) -> bool:
    """True for a speaker who offers like a second rep: rep cues and no customer cue."""
    return evidence.rep_cues >= SECOND_REP_MIN_CUES and evidence.customer_cues == 0


def add_second_reps(
    roles: dict[str, Role], evidence: dict[str, SpeakerEvidence]
) -> dict[str, Role]:
    """With three or more speakers, customers who pitch are reps too (a visit by two reps).

    The least rep-like speaker stays a customer, so a visit always has one: one who does not
    pitch before one who does, then the lowest score.
    """
    if len(roles) < 3:
        return roles
    out = dict(roles)
    customers = [n for n, r in roles.items() if r == Role.CUSTOMER]
    keep = min(customers, key=lambda n: (pitches(evidence[n]), evidence[n].score), default=None)
    for name in customers:
        if name != keep and pitches(evidence[name]):
            out[name] = Role.REP
    return out


def assign_roles(
    segments: Sequence[Segment],
    speaker_embeddings: dict[str, np.ndarray],
    *,
    rep_voiceprint: np.ndarray | None = None,
    language: str | None = None,
    cues: QuestionCues | None = None,
) -> RoleAssignment:
    """Name each speaker rep, customer or other; by voice print when one matches, else inferred."""
    cue_set = cues or load_cues()
    evidence = gather_evidence(segments, language, cue_set)
    speakers = sorted(set(evidence) | set(speaker_embeddings))
    if rep_voiceprint is not None:
        voiced = _by_voice(speaker_embeddings, rep_voiceprint)
        if voiced is not None:
            roles, confidence = voiced
            for name in speakers:
                roles.setdefault(name, Role.CUSTOMER)
                evidence.setdefault(name, SpeakerEvidence())
            roles = add_second_reps(roles, evidence)
            return RoleAssignment(roles, confidence, "voiceprint", evidence)
    for name in speakers:
        evidence.setdefault(name, SpeakerEvidence())
    if not speakers:
        return RoleAssignment({}, 0.0, "inferred", evidence)
    ranked = sorted(speakers, key=lambda name: evidence[name].score, reverse=True)
    top = evidence[ranked[0]].score
    if len(ranked) == 1:
        # one voice: a rep's dictated notes ask and offer; otherwise call it the customer
        role: Role = Role.REP if top > 0 else Role.CUSTOMER
        return RoleAssignment({ranked[0]: role}, 0.5, "inferred", evidence)
    roles = add_second_reps(
        {name: (Role.REP if name == ranked[0] else Role.CUSTOMER) for name in speakers}, evidence
    )
    margin = top - max(evidence[n].score for n in speakers if roles[n] == Role.CUSTOMER)
    confidence = 1.0 - math.exp(-max(margin, 0.0) / CONFIDENCE_SCALE)
    return RoleAssignment(roles, round(confidence, 3), "inferred", evidence)
