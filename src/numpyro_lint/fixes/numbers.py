"""Writing a number into code in the style of the literal it replaces."""

from __future__ import annotations


def number_text(value: float, like: str = "") -> str:
    """`10`, or `10.0` when `like` is a float literal (`1e3`, `1000.0`); `0.1`, `2.5`."""
    text = f"{value:.6g}"
    if "e" in text:
        text = repr(float(value))
    literal = like.lstrip("+-")
    float_literal = literal[:1].isdigit() or literal.startswith(".")
    if float_literal and any(mark in literal for mark in ".eE") and not any(mark in text for mark in ".eE"):
        text += ".0"
    return text
