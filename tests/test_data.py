"""Raw-data registry and verified fetch."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date
from pathlib import Path

import pytest

from helpers import data
from workbooks import GOOD_ROW, HEADER, PENDING_HEADER, registry_entry, write_rows


def test_every_mirror_file_is_registered(registry, mirror):
    on_disk = set(data.mirror_files(mirror))
    missing = sorted(on_disk - set(registry))
    assert not missing, f"files in the mirror but not in data/registry.csv: {missing}"


def test_every_registered_file_verifies_from_the_mirror(registry, mirror, tmp_path):
    table = data.fetch_all(registry=registry, cache=tmp_path, mirror=mirror, allow_download=False)
    assert len(table) == len(registry)
    for entry in registry.values():
        assert data.file_sha256(tmp_path / entry.path) == entry.sha256
        assert (tmp_path / entry.path).stat().st_size == entry.bytes


def test_registry_rows_are_complete(registry):
    for entry in registry.values():
        for field in dataclasses.fields(entry):
            assert str(getattr(entry, field.name)).strip(), f"{entry.path}: empty {field.name}"
        assert entry.url.startswith("https://"), entry.path
        assert entry.published[:2] in ("19", "20") and len(entry.published) == 10, entry.path


def test_tampered_mirror_copy_is_rejected(tmp_path):
    good = b"state,count\nMINNESOTA,8\n"
    registry = {"x/file.csv": registry_entry("x/file.csv", good)}
    mirror = tmp_path / "mirror"
    (mirror / "x").mkdir(parents=True)
    (mirror / "x/file.csv").write_bytes(b"state,count\nMINNESOTA,9\n")  # one byte changed
    cache = tmp_path / "cache"
    with pytest.raises(data.HashMismatchError) as err:
        data.fetch("x/file.csv", registry=registry, cache=cache, mirror=mirror, allow_download=False)
    message = str(err.value)
    assert "x/file.csv" in message
    assert registry["x/file.csv"].sha256 in message
    assert hashlib.sha256(b"state,count\nMINNESOTA,9\n").hexdigest() in message
    assert not (cache / "x/file.csv").exists(), "a bad copy must never land in the cache"


def test_tampered_cache_copy_is_set_aside_and_refetched(tmp_path):
    good = b"abc\n"
    registry = {"f.txt": registry_entry("f.txt", good)}
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.txt").write_bytes(good)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.txt").write_bytes(b"abd\n")
    with pytest.warns(
        data.RawDataWarning, match=r"sha256 check failed: the cached copy .*f.txt.* moved to .*f.txt.rejected"
    ):
        path = data.fetch("f.txt", registry=registry, cache=cache, mirror=mirror, allow_download=False)
    assert path.read_bytes() == good
    assert (cache / "f.txt.rejected").read_bytes() == b"abd\n", "the bad copy is kept aside, not lost"


def test_offline_miss_names_file_url_and_mirror_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    registry = {"a/b.csv": registry_entry("a/b.csv", b"x", url="http://127.0.0.1:9/a/b.csv")}  # port 9: refused
    with pytest.raises(data.RawFileUnavailableError) as err:
        data.fetch("a/b.csv", registry=registry, cache=tmp_path, timeout=2)
    message = str(err.value)
    assert "a/b.csv" in message and "http://127.0.0.1:9/a/b.csv" in message and data.MIRROR_ENV in message


def test_unknown_path_suggests_nearest_names(registry):
    with pytest.raises(data.UnknownRawFileError) as err:
        data.fetch("ice-287g/participatingAgencies10312025.xlsx", registry=registry, allow_download=False)
    message = str(err.value)
    assert "not in the raw-data registry" in message
    assert "participatingAgencies10312025pm.xlsx" in message


def test_download_from_loopback_server(tmp_path, loopback_server, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    folder, base = loopback_server
    content = b"year,value\n2025,536\n"
    (folder / "file.csv").write_bytes(content)
    registry = {"ctx/file.csv": registry_entry("ctx/file.csv", content, url=f"{base}/file.csv")}
    path = data.fetch("ctx/file.csv", registry=registry, cache=tmp_path / "cache")
    assert path.read_bytes() == content
    # a second call is served from the cache, even with the server gone
    (folder / "file.csv").unlink()
    assert data.fetch("ctx/file.csv", registry=registry, cache=tmp_path / "cache") == path


def test_download_with_wrong_bytes_is_rejected(tmp_path, loopback_server, monkeypatch):
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    folder, base = loopback_server
    (folder / "file.csv").write_bytes(b"tampered\n")
    registry = {"ctx/file.csv": registry_entry("ctx/file.csv", b"original\n", url=f"{base}/file.csv")}
    with pytest.raises(data.HashMismatchError) as err:
        data.fetch("ctx/file.csv", registry=registry, cache=tmp_path / "cache")
    assert hashlib.sha256(b"tampered\n").hexdigest() in str(err.value)
    assert not (tmp_path / "cache" / "ctx/file.csv").exists()


def test_bare_file_name_resolves_when_unambiguous(registry):
    entry = data.resolve("participatingAgencies10312025pm.xlsx", registry)
    assert entry.path == "ice-287g/participatingAgencies10312025pm.xlsx"


def test_malformed_registry_is_reported(tmp_path):
    bad = tmp_path / "registry.csv"
    bad.write_text("path,sha256\nx,abc\n")
    with pytest.raises(data.RegistryError, match="missing columns"):
        data.load_registry(bad)


def test_registry_reader_matches_pandas_on_the_real_registry():
    """The csv-module reader gives the entries pandas gave (every column a string, nothing else parsed)."""
    import pandas as pd

    df = pd.read_csv(data.paths.REGISTRY, dtype=str, keep_default_na=False)
    expected = {
        r["path"]: data.Entry(
            **{c: r[c] for c in data.REGISTRY_COLUMNS if c not in ("sha256", "bytes")},
            sha256=r["sha256"].strip().lower(),
            bytes=int(r["bytes"]),
        )
        for r in df.to_dict("records")
    }
    read = data._read_registry(data.paths.REGISTRY)
    assert read == expected and list(read) == list(expected)


SHA_A, SHA_B = "a" * 64, "B" * 64
REGISTRY_HEADER = ",".join(data.REGISTRY_COLUMNS)


def _row(path: str, sha: str = SHA_A, description: str = "d") -> str:
    return f"{path},{sha},3,http://u,http://o,pub,2025-01-01,lic,{description}"


REGISTRY_FILES = [
    # (id, file text, error words or None, paths read when it is accepted)
    ("good", f"{REGISTRY_HEADER}\n{_row('a/x.csv')}\n{_row('a/y.csv', SHA_B)}\n", None, ["a/x.csv", "a/y.csv"]),
    ("blank-lines-skipped", f"{REGISTRY_HEADER}\n\n{_row('a/x.csv')}\n\n", None, ["a/x.csv"]),
    ("byte-order-mark", f"\ufeff{REGISTRY_HEADER}\n{_row('a/x.csv')}\n", None, ["a/x.csv"]),
    (
        "quoted-comma",
        f"{REGISTRY_HEADER}\n{_row('a/x.csv', description=chr(34) + 'a, b' + chr(34))}\n",
        None,
        ["a/x.csv"],
    ),
    ("missing-columns", "path,sha256\nx,abc\n", ("missing columns", "bytes"), None),
    ("empty-file", "", ("missing columns", "path"), None),
    (
        "duplicate-path",
        f"{REGISTRY_HEADER}\n{_row('a/x.csv')}\n{_row('a/x.csv', SHA_B)}\n",
        ("duplicate paths", "a/x.csv"),
        None,
    ),
    ("short-sha256", f"{REGISTRY_HEADER}\n{_row('a/x.csv', 'abc')}\n", ("row 2", "a/x.csv", "64 hex digits"), None),
    (
        "non-hex-sha256",
        f"{REGISTRY_HEADER}\n{_row('a/x.csv')}\n{_row('a/y.csv', 'g' * 64)}\n",
        ("row 3", "a/y.csv", "64 hex"),
        None,
    ),
    ("extra-field", f"{REGISTRY_HEADER}\n{_row('a/x.csv')},extra\n", ("row 2", "10 fields", "header has 9"), None),
    ("missing-field", f"{REGISTRY_HEADER}\n{_row('a/x.csv').rpartition(',')[0]}\n", ("row 2", "8 fields"), None),
]


@pytest.mark.parametrize("text, words, paths_read", [c[1:] for c in REGISTRY_FILES], ids=[c[0] for c in REGISTRY_FILES])
def test_registry_file_is_checked(tmp_path, text, words, paths_read):
    path = tmp_path / "registry.csv"
    path.write_text(text, encoding="utf-8")
    if words is None:
        registry = data.load_registry(path)
        assert list(registry) == paths_read
        assert all(len(e.sha256) == 64 and e.sha256 == e.sha256.lower() and e.bytes == 3 for e in registry.values())
        if '"' in text:
            assert registry["a/x.csv"].description == "a, b"
        return
    with pytest.raises(data.RegistryError) as raised:
        data.load_registry(path)
    assert str(path) in str(raised.value)
    for word in words:
        assert word in str(raised.value)


# ---------------------------------------------------------------- pinning a downloaded sheet (helpers.data add)

ROWS = [
    GOOD_ROW,
    ["IOWA", "Iowa State Patrol", "State Agency", "Polk", "Task Force Model", date(2025, 3, 3), "link", None],
]


@pytest.fixture()
def registry_copy(tmp_path) -> Path:
    """A temporary copy of the registry: tests never write the real one."""
    copy = tmp_path / "registry.csv"
    copy.write_bytes(data.paths.REGISTRY.read_bytes())
    return copy


def test_add_pins_a_new_sheet(tmp_path, registry_copy):
    sheet = write_rows(tmp_path / "downloads", [HEADER, *ROWS], "participatingAgencies01152026am.xlsx")
    before = registry_copy.read_text().splitlines()
    added = data.add(sheet, registry_path=registry_copy, cache=tmp_path / "cache")
    entry = added.entry
    assert entry.path == "ice-287g/participatingAgencies01152026am.xlsx"
    assert entry.sha256 == data.file_sha256(sheet) and entry.bytes == sheet.stat().st_size
    assert entry.published == "2026-01-15" and entry.publisher == data.ICE_PUBLISHER
    assert (
        entry.url
        == entry.original_url
        == "https://www.ice.gov/doclib/about/offices/ero/287g/participatingAgencies01152026am.xlsx"
    )
    assert (added.kind, added.label, added.rows) == ("participating", "2026-01-15 am", 2)
    assert (tmp_path / "cache" / entry.path).read_bytes() == sheet.read_bytes()
    after = registry_copy.read_text().splitlines()
    new = [line for line in after if line not in before]
    assert len(new) == 1 and new[0].startswith(entry.path + ",") and len(after) == len(before) + 1
    untouched = [line for line in after if line != new[0]]
    assert after[1:] == sorted(after[1:]) and untouched == before, "one sorted row added, the rest untouched"
    registry = data.load_registry(registry_copy)
    assert registry[entry.path] == entry
    assert data.fetch(
        "participatingAgencies01152026am.xlsx", registry=registry, cache=tmp_path / "cache", allow_download=False
    ).is_file()


def test_add_refuses_a_sheet_whose_columns_are_the_other_list(tmp_path, registry_copy):
    sheet = write_rows(
        tmp_path / "downloads", [HEADER, *ROWS], "pendingAgencies01152026pm.xlsx"
    )  # participating columns
    with (
        pytest.warns(UserWarning, match="the name says pending but the content is a participating list"),
        pytest.raises(
            data.AddError, match=r"named as a pending sheet but its columns are those of a participating sheet"
        ),
    ):
        data.add(sheet, registry_path=registry_copy, cache=tmp_path / "cache")
    assert registry_copy.read_bytes() == data.paths.REGISTRY.read_bytes(), "nothing was added"


def test_add_command_says_what_it_added_and_how_to_commit(tmp_path, registry_copy, capsys):
    pending_rows = [r[:5] for r in ROWS]  # a pending sheet has no SIGNED, MOA or ADDENDUM
    sheet = write_rows(tmp_path / "downloads", [PENDING_HEADER, *pending_rows], "pendingAgencies01152026pm.xlsx")
    code = data.main(
        [
            "add",
            str(sheet),
            "--url",
            "https://example.org/p.xlsx",
            "--registry",
            str(registry_copy),
            "--cache",
            str(tmp_path / "c"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "added ice-287g/pendingAgencies01152026pm.xlsx" in out and "pending sheet published 2026-01-15 pm" in out
    assert "url https://example.org/p.xlsx" in out and "git add" in out and "git commit" in out
    assert data.load_registry(registry_copy)["ice-287g/pendingAgencies01152026pm.xlsx"].original_url.startswith(
        data.ICE_DOCLIB
    )


MIRROR_VALUES = [
    # value of $RAW_DATA_MIRROR -> the folder it names (None = no mirror)
    ("unset", None, None),
    ("empty", "", None),
    ("blank", "  ", None),
    ("relative, from the project root", "../shared/data/raw", "ROOT/../shared/data/raw"),
    ("absolute", "/srv/mirror", "/srv/mirror"),
]


@pytest.mark.parametrize(("case", "value", "expected"), MIRROR_VALUES, ids=[c[0] for c in MIRROR_VALUES])
def test_mirror_variable_names_one_folder_wherever_the_process_runs(case, value, expected, monkeypatch, tmp_path):
    """A kernel runs in notebooks/: a relative $RAW_DATA_MIRROR still names the folder beside the project."""
    if value is None:
        monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    else:
        monkeypatch.setenv(data.MIRROR_ENV, value)
    for cwd in (data.paths.ROOT, data.paths.NOTEBOOKS, tmp_path):
        monkeypatch.chdir(cwd)
        got = data.env_mirror()
        want = None if expected is None else Path(expected.replace("ROOT", str(data.paths.ROOT)))
        assert got == want, f"{case} from {cwd}"
