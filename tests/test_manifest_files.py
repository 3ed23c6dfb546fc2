"""Loading manifests from files and directories: multi-document streams, duplicates and
hostile input. Every problem must come back as one-line errors, never an exception."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from controller.spec.manifest import (
    MAX_FILE_BYTES,
    ManifestError,
    ManifestErrors,
    load_manifests,
    parse_manifest_text,
    validate_paths,
)
from controller.spec.types import Source

CID = "0x" + "ab" * 32


def manifest(name: str, yes: str = "1", no: str = "2") -> str:
    return (
        "apiVersion: bandctl/v1\n"
        "kind: MarketMaker\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        f"  market: {{conditionId: '{CID}', tokens: {{yes: '{yes}', no: '{no}'}}}}\n"
        "  bands:\n"
        "    - {minMargin: 0.01, avgMargin: 0.02, maxMargin: 0.03, minAmount: 5, avgAmount: 10, maxAmount: 20}\n"
    )


BAD_BAND = manifest("bad").replace("maxAmount: 20", "maxAmount: 1")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a temporary directory so relative paths in messages are short and checkable."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: str | Path, content: str | bytes) -> str:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return str(path)


def lines(result_errors: list[ManifestError]) -> list[str]:
    return [str(e) for e in result_errors]


# ----------------------------------------------------------------- multi-document files


def test_multi_document_file_keeps_stream_order_and_sources(workdir: Path) -> None:
    write("m.yaml", manifest("a") + "---\n" + manifest("b", "3", "4"))
    result = validate_paths(["m.yaml"])
    assert result.errors == []
    assert [s.name for s in result.specs] == ["a", "b"]
    assert [s.source for s in result.specs] == [Source("m.yaml", 0), Source("m.yaml", 1)]
    assert result.files[0].path == "m.yaml" and result.files[0].specs == result.specs


def test_empty_documents_are_skipped_but_keep_their_index(workdir: Path) -> None:
    write("m.yaml", "---\n# nothing\n---\n" + manifest("a") + "---\n---\n" + BAD_BAND + "---\n")
    result = validate_paths(["m.yaml"])
    assert [s.source for s in result.specs] == [Source("m.yaml", 1)]
    assert lines(result.errors) == [
        "m.yaml[3] spec.bands[0].maxAmount: must be greater than or equal to avgAmount (1 < 10)"
    ]


def test_leading_comment_and_explicit_start_count_from_zero() -> None:
    load = parse_manifest_text("# header\n---\n" + manifest("a"), "m.yaml")
    assert [s.source for s in load.specs] == [Source("m.yaml", 0)]


def test_one_bad_document_does_not_hide_the_good_ones() -> None:
    load = parse_manifest_text(manifest("a") + "---\n" + BAD_BAND + "---\n" + manifest("c", "5", "6"), "m.yaml")
    assert [s.name for s in load.specs] == ["a", "c"]
    assert [e.index for e in load.errors] == [1]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n---\n...\n"])
def test_file_without_documents_is_an_error(text: str) -> None:
    load = parse_manifest_text(text, "m.yaml")
    assert lines(load.errors) == ["m.yaml: empty file (no YAML documents)"]
    assert load.specs == []


def test_byte_order_mark_is_accepted(workdir: Path) -> None:
    write("m.yaml", b"\xef\xbb\xbf" + manifest("a").encode())
    assert validate_paths(["m.yaml"]).errors == []


# ----------------------------------------------------------------- YAML errors


def test_yaml_syntax_error_has_line_and_column_and_discards_the_whole_file() -> None:
    text = manifest("a") + "---\n" + "apiVersion: bandctl/v1\nkind: [MarketMaker\n"
    load = parse_manifest_text(text, "m.yaml")
    assert lines(load.errors) == [
        "m.yaml[1]: YAML error at line 11, column 1: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 10, column 7)"
    ]
    # a half-written file must not look like a fleet that lost its later markets
    assert load.specs == []


def test_errors_before_a_syntax_error_are_still_reported() -> None:
    load = parse_manifest_text(BAD_BAND + "---\nkey: : :\n", "m.yaml")
    assert [e.index for e in load.errors] == [0, 1]
    assert load.errors[1].message.startswith("YAML error at line 9, column 6: mapping values are not allowed here")


def test_tab_indentation() -> None:
    load = parse_manifest_text("a:\n\tb: 1\n", "m.yaml")
    assert lines(load.errors) == [
        "m.yaml[0]: YAML error at line 2, column 1: found character '\\t' that cannot start any token "
        "(while scanning for the next token)"
    ]


def test_duplicate_keys_are_an_error_not_last_wins() -> None:
    text = manifest("a").replace("minAmount: 5,", "minAmount: 5, minAmount: 50,")
    assert lines(parse_manifest_text(text, "m.yaml").errors) == [
        "m.yaml[0]: YAML error at line 7, column 73: found duplicate key 'minAmount' "
        "(while constructing a mapping at line 7, column 7)"
    ]


def test_merge_keys_still_work() -> None:
    text = (
        manifest("a").replace(
            "    - {minMargin",
            "    - &b1 {minMargin",
        )
        + "    - {<<: *b1, minMargin: 0.03, avgMargin: 0.03, maxMargin: 0.04}\n"
    )
    (spec,) = parse_manifest_text(text).specs
    assert [b.min_margin for b in spec.bands] == [Decimal("0.01"), Decimal("0.03")]
    assert spec.bands[1].max_amount == 20


def test_python_tags_are_refused() -> None:
    text = manifest("a") + "  paused: !!python/object/apply:os.system ['echo pwned']\n"
    (error,) = parse_manifest_text(text, "m.yaml").errors
    assert error.index == 0
    assert "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'" in (
        error.message
    )


def test_billion_laughs_is_rejected_before_expansion() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        levels.append(f"a{i}: &a{i} [{refs}]")
    load = parse_manifest_text("\n".join(levels) + "\n", "bomb.yaml")
    (error,) = load.errors
    assert error.message.startswith("YAML error at line ")
    assert error.message.endswith("document expands to more than 50000 nodes (anchors/aliases?)")


def test_small_aliases_are_fine() -> None:
    text = manifest("a").replace("  bands:\n", "  bands: &bands\n")
    assert parse_manifest_text(text).errors == []


def test_recursive_alias() -> None:
    (error,) = parse_manifest_text("a: &x [*x]\n", "m.yaml").errors
    assert error.message == "YAML error at line 1, column 4: recursive alias (a node contains itself)"


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting(opener: str) -> None:
    (error,) = parse_manifest_text(opener * 5000 + "x\n", "m.yaml").errors
    assert error.message.startswith("YAML error")
    assert "nested" in error.message or "expected" in error.message


def test_moderate_nesting_is_caught_by_the_depth_limit() -> None:
    (error,) = parse_manifest_text("[" * 60 + "]" * 60 + "\n", "m.yaml").errors
    assert error.message == "YAML error at line 1, column 52: nested deeper than 50 levels"


def test_huge_integer_is_a_clean_error() -> None:
    (error,) = parse_manifest_text(manifest("a").replace("minAmount: 5", "minAmount: " + "9" * 5000), "m.yaml").errors
    assert error.index == 0
    assert error.message == "YAML error at line 7, column 70: number longer than 100 digits"


def test_control_character() -> None:
    (error,) = parse_manifest_text("a: b\x07\n", "m.yaml").errors
    assert str(error) == (
        "m.yaml[0]: YAML error at character 5: unacceptable character #x0007: special characters are not allowed"
    )


# ----------------------------------------------------------------- hostile files


def test_binary_garbage(workdir: Path) -> None:
    write("nul.yaml", b"apiVersion: bandctl/v1\n\x00\x01\x02")
    write("latin1.yaml", "name: caf\xe9\n".encode("latin-1"))
    write("utf16.yaml", manifest("a").encode("utf-16"))
    write("png.yaml", b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    result = validate_paths(["nul.yaml", "latin1.yaml", "utf16.yaml", "png.yaml"])
    assert lines(result.errors)[:3] == [
        "nul.yaml: binary file (contains NUL bytes); manifests must be UTF-8 YAML",
        "latin1.yaml: not valid UTF-8 (byte 0xe9 at offset 9)",
        "utf16.yaml: binary file (contains NUL bytes); manifests must be UTF-8 YAML",
    ]
    assert lines(result.errors)[3].startswith("png.yaml: ")
    assert all("\n" not in line for line in lines(result.errors))


@pytest.mark.parametrize("text", ["[" + "1," * 60_000 + "1]\n", "- 1\n" * 60_000])
def test_many_nodes_stop_parsing_early(text: str) -> None:
    (error,) = parse_manifest_text(text, "m.yaml").errors
    assert error.message.startswith("YAML error at line ")
    assert error.message.endswith(": file has more than 50000 YAML nodes")


def test_too_many_documents() -> None:
    load = parse_manifest_text("a: 1\n---\n" * 1001, "m.yaml")
    assert len(load.errors) == 2 * 1000 + 1
    assert str(load.errors[-1]) == "m.yaml[1000]: file has more than 1000 YAML documents"
    assert load.specs == []


def test_huge_file_is_refused_without_parsing(workdir: Path) -> None:
    write("big.yaml", "# " + "x" * MAX_FILE_BYTES + "\n")
    assert lines(validate_paths(["big.yaml"]).errors) == ["big.yaml: file too large (over 2 MiB)"]
    assert lines(parse_manifest_text("#" * (MAX_FILE_BYTES + 1), "t.yaml").errors) == [
        "t.yaml: file too large (over 2 MiB)"
    ]


def test_missing_file(workdir: Path) -> None:
    assert lines(validate_paths(["nope.yaml"]).errors) == ["nope.yaml: no such file or directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(workdir: Path) -> None:
    path = write("secret.yaml", manifest("a"))
    os.chmod(path, 0)
    try:
        assert lines(validate_paths([path]).errors) == ["secret.yaml: cannot read: permission denied"]
    finally:
        os.chmod(path, 0o644)


def test_special_files_are_not_read() -> None:
    assert lines(validate_paths(["/dev/zero"]).errors) == ["/dev/zero: not a regular file"]


# ----------------------------------------------------------------- directories


def test_directory_loads_yaml_and_yml_sorted_by_name(workdir: Path) -> None:
    write("m/b.yml", manifest("b", "3", "4"))
    write("m/a.yaml", manifest("a"))
    write("m/c.yaml", manifest("c", "5", "6"))
    write("m/notes.txt", "not a manifest")
    write("m/.hidden.yaml", "garbage: [")
    write("m/sub/d.yaml", "garbage: [")  # not recursive
    os.mkdir("m/dir.yaml")
    result = validate_paths(["m"])
    assert result.errors == []
    assert [s.name for s in result.specs] == ["a", "b", "c"]
    assert [f.path for f in result.files] == ["m/a.yaml", "m/b.yml", "m/c.yaml"]


def test_directory_with_trailing_slash_keeps_user_spelling(workdir: Path) -> None:
    write("m/bad.yaml", BAD_BAND)
    (error,) = validate_paths(["m/"]).errors
    assert str(error).startswith("m/bad.yaml[0] spec.bands[0].maxAmount: ")


def test_absolute_paths_stay_absolute(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", BAD_BAND)
    (error,) = validate_paths([tmp_path / "bad.yaml"]).errors
    assert error.file == path


def test_directory_without_manifests(workdir: Path) -> None:
    write("empty/readme.md", "hi")
    assert lines(validate_paths(["empty"]).errors) == ["empty: no manifests found (*.yaml, *.yml)"]


def test_bad_files_do_not_stop_the_others(workdir: Path) -> None:
    write("m/a.yaml", manifest("a"))
    write("m/b.yaml", "key: [\n")
    write("m/c.yaml", manifest("c", "5", "6"))
    result = validate_paths(["m"])
    assert [s.name for s in result.specs] == ["a", "c"]
    assert [f.path for f in result.files if f.errors] == ["m/b.yaml"]
    # what a reloader needs: per-file outcome
    assert [(f.path, len(f.specs), len(f.errors)) for f in result.files] == [
        ("m/a.yaml", 1, 0),
        ("m/b.yaml", 0, 1),
        ("m/c.yaml", 1, 0),
    ]


def test_same_file_given_twice_is_loaded_once(workdir: Path) -> None:
    write("m/a.yaml", manifest("a"))
    result = validate_paths(["m", "m/a.yaml", "./m/a.yaml"])
    assert result.errors == []
    assert [s.name for s in result.specs] == ["a"]


def test_paths_in_argument_order(workdir: Path) -> None:
    write("z.yaml", manifest("z"))
    write("a.yaml", manifest("a", "3", "4"))
    assert [s.name for s in validate_paths(["z.yaml", "a.yaml"]).specs] == ["z", "a"]


# ----------------------------------------------------------------- duplicate names


def test_duplicate_name_in_one_file() -> None:
    load = parse_manifest_text(manifest("a") + "---\n" + manifest("a", "3", "4"), "m.yaml")
    assert lines(load.errors) == ["m.yaml[1] metadata.name: duplicate name 'a' (first defined in m.yaml[0])"]
    assert [s.source for s in load.specs] == [Source("m.yaml", 0)]


def test_duplicate_name_across_files(workdir: Path) -> None:
    write("m/1.yaml", manifest("a"))
    write("m/2.yaml", manifest("b", "3", "4") + "---\n" + manifest("a", "5", "6"))
    result = validate_paths(["m"])
    assert lines(result.errors) == ["m/2.yaml[1] metadata.name: duplicate name 'a' (first defined in m/1.yaml[0])"]
    assert [s.name for s in result.specs] == ["a", "b"]
    assert result.files[1].specs[0].name == "b"


def test_duplicate_of_an_invalid_document_is_still_reported() -> None:
    load = parse_manifest_text(BAD_BAND + "---\n" + manifest("bad", "3", "4"), "m.yaml")
    assert lines(load.errors)[-1] == "m.yaml[1] metadata.name: duplicate name 'bad' (first defined in m.yaml[0])"
    assert load.specs == []


def test_duplicate_errors_sort_with_their_document() -> None:
    text = manifest("a") + "---\n" + manifest("a", "3", "4") + "---\n" + BAD_BAND
    load = parse_manifest_text(text, "m.yaml")
    assert [e.index for e in load.errors] == [1, 2]


# ----------------------------------------------------------------- load_manifests


def test_load_manifests_returns_specs(workdir: Path) -> None:
    write("m/a.yaml", manifest("a"))
    assert [s.name for s in load_manifests("m")] == ["a"]
    assert [s.name for s in load_manifests(Path("m"))] == ["a"]
    assert [s.name for s in load_manifests(["m/a.yaml"])] == ["a"]


def test_load_manifests_raises_with_every_error(workdir: Path) -> None:
    write("m/a.yaml", BAD_BAND)
    write("m/b.yaml", "[")
    with pytest.raises(ManifestErrors) as caught:
        load_manifests("m")
    assert [e.file for e in caught.value.errors] == ["m/a.yaml", "m/b.yaml"]
    assert str(caught.value) == "\n".join(str(e) for e in caught.value.errors)


def test_the_shipped_examples_are_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    result = validate_paths([root / "manifests"])
    assert result.errors == []
    names = [s.name for s in result.specs]
    assert names[:2] == ["demo-btc-150k", "demo-rain-nyc"]


def test_invalid_fixtures_are_invalid() -> None:
    fixtures = Path(__file__).resolve().parent / "fixtures" / "manifests"
    for path in sorted(fixtures.glob("*.yaml")):
        assert validate_paths([path]).errors, path
