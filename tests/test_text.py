"""Grammar follows the number."""

from __future__ import annotations

import pytest

from helpers import text


@pytest.mark.parametrize(
    "n, singular, plural_form, expected",
    [
        (0, "county", "counties", "0 counties"),
        (1, "county", "counties", "1 county"),
        (2, "county", "counties", "2 counties"),
        (1, "agreement", None, "1 agreement"),
        (536, "agreement", None, "536 agreements"),
        (-1, "sheet", None, "-1 sheet"),
    ],
)
def test_counted_agrees_with_the_number(n, singular, plural_form, expected):
    assert text.counted(n, singular, plural_form) == expected


@pytest.mark.parametrize("n, expected", [(0, "have"), (1, "has"), (87, "have")])
def test_verb_agrees_with_the_number(n, expected):
    assert text.verb(n) == expected


@pytest.mark.parametrize("bad", [1.5, True, float("nan")])
def test_plural_refuses_what_is_not_a_whole_number(bad):
    with pytest.raises(ValueError, match="whole number"):
        text.plural(bad, "county")


@pytest.mark.parametrize(
    "names, expected",
    [([], ""), (["Cass"], "Cass"), (["Cass", "Itasca"], "Cass and Itasca"), (["A", "B", "C"], "A, B and C")],
)
def test_join_lists_names_in_english(names, expected):
    assert text.join(names) == expected


def test_say_renders_markdown():
    shown = text.say("**8** of Minnesota's 87 counties")
    assert shown._repr_markdown_() == "**8** of Minnesota's 87 counties"
