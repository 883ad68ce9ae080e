"""'Did you mean …' for unknown names (torchvision, timm, plugins)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


def did_you_mean(name: str, candidates: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` with up to three close names, or ``""`` when none is close."""
    close = difflib.get_close_matches(name.lower(), list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    quoted = [f"'{c}'" for c in close]
    options = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {options}?"
