"""Kinds of personal data, and the candidate spans that the finders (nlp/redact.py,
nlp/pii_numbers.py) propose before overlaps are settled."""

from __future__ import annotations

from enum import StrEnum


class PiiKind(StrEnum):
    PHONE = "phone"
    ID_CARD = "id_card"
    BANK_CARD = "bank_card"
    EMAIL = "email"
    NAME = "name"


Candidate = tuple[int, int, int, PiiKind]  # start, end, rank (lower wins a tie), kind
RANK_EMAIL, RANK_ID, RANK_CARD, RANK_OLD_ID, RANK_PHONE, RANK_NAME = range(6)
