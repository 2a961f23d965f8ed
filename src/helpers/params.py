"""Notebook parameters: one place that checks them and reads them from the command line.

Every notebook's first code cell calls :func:`helpers.paths.start_run`, which
passes the parameter values to :func:`check_all`.  A wrong value stops the run
with a :class:`ParameterError` that names the parameter, says what is wrong and
how to write it; it is never blamed on a raw file or a corrections file.

Parameter names mean the same in every notebook (see ``notebooks/README.md``):

========================================  =====================================
``state``                                 upper-case state name, as ICE prints it
``as_of``, ``baseline_as_of``,            ISO date, ``YYYY-MM-DD``
``article_date``
``start``, ``end``                        ISO date or None; ``start`` <= ``end``
``groups``                                label -> list of states, each once
``fb_years``                              list of ACS years, each once
``sheet``                                 None, or a registered name or a path
``counties``                              None, or a list of county names
========================================  =====================================

Values given on the command line (``-p NAME VALUE``, ``-f file.yaml``,
``make adapt``) are read by :func:`parse_value` and :func:`load_yaml`: YAML,
like papermill's ``-y``, except that dates stay as written (``2025-12-01`` is
the string ``"2025-12-01"``, as in the parameters cells).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CORRECTIONS_NOTE = (
    "This is a parameter: fix the value you passed. data/corrections/state_names.csv corrects "
    "misspellings inside ICE's sheets, not parameters."
)


class ParameterError(ValueError):
    """A notebook parameter with a wrong value; the message names the parameter and the fix."""


# --------------------------------------------------------------------------- reading values


@cache
def _dates_as_text_loader() -> type:
    """YAML's safe loader without the timestamp rule: ``2025-12-01`` stays a string.

    Built on first use: a notebook checks its parameters (:func:`helpers.paths.start_run`) without reading YAML,
    and need not import it.
    """
    import yaml

    class DatesAsTextLoader(yaml.SafeLoader):
        pass

    DatesAsTextLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return DatesAsTextLoader


def parse_value(text: str) -> Any:
    """A ``-p`` value: YAML (numbers, lists, mappings, null, true/false), dates kept as text.

    Text that is not valid YAML is returned as it is.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_dates_as_text_loader())  # noqa: S506 (a safe loader)
    except yaml.YAMLError:
        return text


def load_yaml(path: Path) -> dict[str, Any]:
    """A parameter file: a YAML mapping of parameter names to values, dates kept as text."""
    import yaml

    path = Path(path)
    try:
        values = yaml.load(path.read_text(encoding="utf-8"), Loader=_dates_as_text_loader())  # noqa: S506
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(values, dict) or not values:
        raise ParameterError(f"{path}: expected a mapping of parameter names to values, e.g. 'state: IOWA'")
    return values


# --------------------------------------------------------------------------- checks


def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_date(value: Any, name: str = "as_of", optional: bool = False) -> date | None:
    """An ISO date (``"2025-11-01"``, or a ``date``); None only when ``optional``."""
    if value is None:
        if optional:
            return None
        raise ParameterError(f'Parameter {name} is None; write an ISO date such as "2025-11-01".')
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise ParameterError(
            f'Parameter {name}={_kind(value)} is not an ISO date. Write it as YYYY-MM-DD, e.g. "2025-11-01".'
        )
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ParameterError(
            f"Parameter {name}={value!r} is not a calendar date ({exc}). Write an existing date as "
            'YYYY-MM-DD, e.g. "2025-11-01".'
        ) from None


def check_state(value: Any, name: str = "state") -> str:
    """A state, DC or territory name as ICE prints it; returns the reference upper-case name."""
    from helpers import geo

    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f'Parameter {name}={_kind(value)} must be a state name such as "MINNESOTA".')
    try:
        return geo.normalize_state(value)
    except geo.UnknownStateError:
        pass
    ref = geo.states()
    text = value.strip().upper()
    hints = []
    by_usps = ref.loc[ref["usps"] == text, "state"]
    if len(by_usps):
        hints.append(f" {text} is a postal code: write {by_usps.iloc[0]}.")
    near = difflib.get_close_matches(text, sorted(ref["state"]), n=3, cutoff=0.6)
    if near and not len(by_usps):
        hints.append(f" Did you mean {' or '.join(near)}?")
    raise ParameterError(
        f"Parameter {name}={value!r} is not a state, DC or territory.{''.join(hints)} "
        "Write the upper-case name as ICE prints it (the list is data/reference/states.csv). " + _CORRECTIONS_NOTE
    )


def check_groups(value: Any, name: str = "groups") -> dict[str, list[str]]:
    """A mapping label -> non-empty list of states, each state once; returns reference names."""
    example = '{"Florida and Texas": ["FLORIDA", "TEXAS"]}'
    if not isinstance(value, Mapping) or not value:
        raise ParameterError(f"Parameter {name}={_kind(value)} must map a label to a list of states, e.g. {example}.")
    out: dict[str, list[str]] = {}
    for label, members in value.items():
        where = f"{name}[{label!r}]"
        if not isinstance(label, str) or not label.strip():
            raise ParameterError(f"Parameter {name}: every label must be non-empty text, got {_kind(label)}.")
        if isinstance(members, str) or not isinstance(members, (list, tuple)) or not members:
            raise ParameterError(
                f"Parameter {where}={_kind(members)} must be a non-empty list of states, e.g. {example}."
            )
        seen: dict[str, Any] = {}
        for member in members:
            state = check_state(member, where)
            if state in seen:
                raise ParameterError(
                    f"Parameter {where} names {state} twice ({seen[state]!r} and {member!r}); list each state once."
                )
            seen[state] = member
        out[label] = list(seen)
    return out


def check_years(value: Any, name: str = "fb_years") -> list[int]:
    """A non-empty list of distinct whole years (e.g. ACS years ``[2021, 2022, 2023]``)."""
    example = "[2021, 2022, 2023]"
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ParameterError(f"Parameter {name}={_kind(value)} must be a non-empty list of years, e.g. {example}.")
    bad = [y for y in value if isinstance(y, bool) or not isinstance(y, int) or not 1900 <= y <= 2100]
    if bad:
        raise ParameterError(
            f"Parameter {name}={value!r}: {bad[0]!r} is not a year; write whole years, e.g. {example}."
        )
    repeated = sorted({y for y in value if list(value).count(y) > 1})
    if repeated:
        listed = ", ".join(str(y) for y in repeated)
        raise ParameterError(
            f"Parameter {name}={list(value)!r} lists {listed} more than once; give each year once, e.g. {example}."
        )
    return list(value)


def check_sheet(value: Any, name: str = "sheet") -> str | None:
    """None (the as-of date chooses), a registered sheet, or the path of an existing file.

    A relative path is looked for from the working directory, then from the
    project root (as :func:`helpers.sheets.resolve_sheet` does).  A file whose
    name and bytes are both unregistered is accepted with a warning that names
    the command that pins it (:func:`helpers.data.warn_unregistered`, once per
    file); a registered name or registered bytes are checked by the sheet lookup
    (:func:`helpers.sheets.locate_sheet`), which refuses a tampered copy.
    """
    from helpers import data, paths

    if value is None:
        return None
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(
            f"Parameter {name}={_kind(value)} must be None or a sheet name such as "
            '"participatingAgencies10312025pm.xlsx" or the path of a downloaded sheet.'
        )
    try:
        data.resolve(value)
        return value
    except data.UnknownRawFileError:
        pass
    local = Path(value).expanduser()
    found = next((c for c in (local, paths.ROOT / local) if c.is_file()), None)
    if found is not None:
        registry = data.load_registry()
        same_name = any(Path(p).name == found.name for p in registry)
        if not same_name and data.file_sha256(found) not in {e.sha256 for e in registry.values()}:
            data.warn_unregistered(found, shown=value)  # a registered name or bytes are checked by the sheet lookup
        return value
    raise ParameterError(
        f"Parameter {name}={value!r}: no such file, and no registered sheet has that name "
        f"(looked in the working directory and the project root). Give a registered name such as "
        '"participatingAgencies10312025pm.xlsx" or the path of a sheet you saved.'
    )


def check_counties(value: Any, name: str = "counties") -> list[str] | None:
    """None (the state's 287(g) counties), or a non-empty list of county names."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise ParameterError(
            f'Parameter {name}={_kind(value)} must be None or a list of county names, e.g. ["Cass", "Itasca"].'
        )
    bad = [c for c in value if not isinstance(c, str) or not c.strip()]
    if bad:
        raise ParameterError(f"Parameter {name}: {bad[0]!r} is not a county name.")
    return list(value)


#: The check for each parameter name (names without one, e.g. ``measure``, are checked by their notebook).
CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "state": check_state,
    "as_of": check_date,
    "baseline_as_of": check_date,
    "article_date": check_date,
    "start": lambda v, n: check_date(v, n, optional=True),
    "end": lambda v, n: check_date(v, n, optional=True),
    "groups": check_groups,
    "fb_years": check_years,
    "sheet": check_sheet,
    "counties": check_counties,
}


def check_all(values: Mapping[str, Any]) -> None:
    """Check every known parameter in ``values``; raises :class:`ParameterError` for the first wrong one."""
    for name, value in values.items():
        check = CHECKS.get(name)
        if check is not None:
            check(value, name)
    start = check_date(values.get("start"), "start", optional=True) if "start" in values else None
    end = check_date(values.get("end"), "end", optional=True) if "end" in values else None
    if start is not None and end is not None and start > end:
        raise ParameterError(f"Parameters start={values['start']!r} and end={values['end']!r}: start is after end.")
