"""What is wrong with a field, in the user's words, from a pydantic error.

The settings dialog, the roles dialog and the report of a bad ``roles.json`` entry all show
these, so they say it alike ("Must be at most 5.") and never in pydantic's own words
("Input should be less than or equal to 5", "String should have at least 1 character").
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_core import ErrorDetails


def format_number(value: object) -> str:
    """A bound as a user reads it: ``1,048,576``, ``5`` (not ``5.0``), ``0.05``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def in_sentence(title: str) -> str:
    """A title inside a sentence: "Threads" -> "threads", but "GPU layers" keeps its acronym."""
    return title if title[1:2].isupper() else title[:1].lower() + title[1:]


def _needs(subject: str, title: str) -> str:
    words = in_sentence(title)
    article = "an" if words[:1].lower() in "aeiou" else "a"
    return f"{subject} needs {article} {words}."


def field_message(
    error: ErrorDetails,
    *,
    title: str | None = None,
    subject: str | None = None,
    titles: Mapping[str, str] | None = None,
) -> str:
    """One sentence saying what ``error`` asks of the user.

    Args:
        error: one item of ``ValidationError.errors()``.
        title: the field's title ("Name"), for sentences that name it.
        subject: what the field belongs to ("A role"): an empty name reads "A role needs a name."
        titles: field names by title, so a rule over several fields ("critical_pressure_percent
            must be above high_pressure_percent") names them as the user knows them.
    """
    kind = error["type"]
    context = error.get("ctx", {})
    if kind == "greater_than_equal":
        return f"Must be at least {format_number(context['ge'])}."
    if kind == "greater_than":
        return f"Must be more than {format_number(context['gt'])}."
    if kind == "less_than_equal":
        return f"Must be at most {format_number(context['le'])}."
    if kind == "less_than":
        return f"Must be less than {format_number(context['lt'])}."
    if kind == "missing":
        return _needs(subject, title) if subject and title else "Must be given."
    if kind == "string_too_short":
        if context.get("min_length") == 1:
            return _needs(subject, title) if subject and title else "Must not be empty."
        return f"Must be at least {format_number(context['min_length'])} characters."
    if kind == "string_too_long":
        return f"Must be at most {format_number(context['max_length'])} characters."
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return "Must be a whole number."
    if kind in ("float_parsing", "float_type"):
        return "Must be a number."
    if kind == "literal_error":
        return f"Must be one of {context.get('expected', 'the listed values')}."
    if kind == "extra_forbidden":
        return "There is no such field."
    text = str(error["msg"]).removeprefix("Value error, ")
    for name in sorted(titles or {}, key=len, reverse=True):
        text = text.replace(name, f"“{(titles or {})[name]}”")
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
