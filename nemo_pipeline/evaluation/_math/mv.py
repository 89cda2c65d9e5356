"""math-verify, called the way a worker process may call it: its SIGALRM timeouts disabled (the grading pool
enforces the time limit from outside), its log quiet, LaTeX answers wrapped in `$...$` as it expects."""

from __future__ import annotations

import logging
import re
from typing import Any

__all__ = ["mv_parse", "mv_verify"]

_DELIMITED = re.compile(r"\$|\\\(|\\\[|\\boxed|\\fbox")


def mv_parse(answer: str) -> list[Any]:
    """math-verify's parse of one answer; a bare LaTeX answer (no delimiters) is wrapped in `$...$` first."""
    from math_verify import parse

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    text = answer if _DELIMITED.search(answer) else f"${answer}$"
    try:
        parsed = parse(text, parsing_timeout=None)  # type: ignore[arg-type]
        if not parsed and text is not answer:
            parsed = parse(answer, parsing_timeout=None)  # type: ignore[arg-type]
    except Exception:
        return []
    return list(parsed)


def mv_verify(gold: str, predicted: str) -> bool | None:
    """math-verify's verdict on two answers; None when it cannot read one of them."""
    from math_verify import verify

    g, p = mv_parse(gold), mv_parse(predicted)
    if not g or not p:
        return None
    try:
        return bool(verify(g, p, timeout_seconds=None))  # type: ignore[arg-type]
    except Exception:
        return None
