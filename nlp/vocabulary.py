"""The closed vocabularies that cross the layers: speaker roles, customer segments, risk signals,
deal outcomes and sentiments. Each is a str, so values stored as text, JSON or SQL read back
equal to them."""

from __future__ import annotations

from enum import StrEnum


class SpeakerRole(StrEnum):
    """Who spoke: the sales rep, the customer, or anyone else (a colleague, a doctor)."""

    REP = "rep"
    CUSTOMER = "customer"
    OTHER = "other"


Role = SpeakerRole  # the name in code; /docs says SpeakerRole, as "Role" is a user's role there


class Segment(StrEnum):
    """The customer's segment, as a person records it on a visit."""

    STRATEGIC = "strategic"
    HIGH_POTENTIAL = "high_potential"
    BASIC = "basic"
    LOW_EFFICIENCY = "low_efficiency"


class Risk(StrEnum):
    """The risk signals an utterance may carry; prompts/labels.yaml defines the same ids."""

    CHURN = "risk.churn"
    DOUBT = "risk.doubt"


class Outcome(StrEnum):
    """How the deal a visit was about ended, as far as anyone has recorded it (None: unknown)."""

    WON = "won"
    LOST = "lost"
    OPEN = "open"


class Sentiment(StrEnum):
    """An utterance's sentiment; this order is the sentiment model's output order."""

    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
