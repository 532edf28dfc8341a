"""A team's domain vocabulary (product names, acronyms) from prompts/glossary.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import yaml


@cache
def load_hotwords(path: Path) -> tuple[str, ...]:
    """All terms of the glossary file, in file order; empty when the file is absent."""
    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(dict.fromkeys(t.strip() for t in _terms(data) if t.strip()))


def _terms(node: object) -> Iterator[str]:
    """The strings under a node, in file order: its terms and hotwords, then its nested groups."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _terms(item)
    elif isinstance(node, dict):
        for key in ("terms", "hotwords"):
            if key in node:
                yield from _terms(node[key])
        for key, value in node.items():
            if key not in ("terms", "hotwords", "description") and isinstance(value, dict):
                yield from _terms(value)
