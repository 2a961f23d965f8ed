"""Words for numbers: the grammar of sentences built from computed values.

Every sentence a notebook prints is built from data, so its grammar has to
follow the number: "1 agreement", "2 agreements", "1 of Iowa's 99 counties
has", "8 of Minnesota's 87 counties have".  These small functions do that in
one place; :func:`say` shows a finished sentence as Markdown, so it wraps at
word boundaries in JupyterLab and in the HTML report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``singular`` when ``n`` is 1 (or -1), else ``plural_form`` (default: ``singular + "s"``).

    >>> plural(1, "county", "counties"), plural(0, "county", "counties"), plural(2, "agreement")
    ('county', 'counties', 'agreements')
    """
    if isinstance(n, bool) or not float(n).is_integer():
        raise ValueError(f"plural() needs a whole number, got {n!r}")
    return singular if abs(int(n)) == 1 else (plural_form or singular + "s")


def counted(n: int, singular: str, plural_form: str | None = None) -> str:
    """The number and the noun that agrees with it: ``counted(1, "agreement") == "1 agreement"``."""
    return f"{int(n)} {plural(n, singular, plural_form)}"


def verb(n: int, singular: str = "has", plural_form: str = "have") -> str:
    """The verb form that agrees with ``n`` things: ``has``/``have``, ``is``/``are``, ``was``/``were``."""
    return plural(n, singular, plural_form)


def join(names: Iterable[Any], conjunction: str = "and") -> str:
    """``"A"``, ``"A and B"``, ``"A, B and C"`` (empty string for no names)."""
    items = [str(n) for n in names]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def say(sentence: str) -> Any:
    """A finished sentence rendered as Markdown in the notebook (wraps at words; numbers stay as built).

    Returns an :class:`IPython.display.Markdown` object; as the last expression
    of a cell it is stored as ``text/markdown`` with a ``text/plain`` copy.
    """
    from IPython.display import Markdown

    return Markdown(sentence)
