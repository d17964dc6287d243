"""The committed generated files are exactly what the generator produces."""

from __future__ import annotations

from pathlib import Path

import pytest

from qk.schemas import generate

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("relative", generate.OUTPUTS)
def test_committed_file_is_byte_identical_to_a_fresh_generation(
    relative: str, tmp_path: Path
) -> None:
    generate.write(tmp_path)
    fresh = (tmp_path / relative).read_bytes()
    committed = (REPO / relative).read_bytes()
    assert committed == fresh, (
        f"{relative} is stale or hand-edited: run python -m qk.schemas.generate"
    )


def test_generation_is_deterministic() -> None:
    assert generate.render() == generate.render()


def test_check_mode_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate.write(tmp_path)
    assert generate.main(["--root", str(tmp_path), "--check"]) == 0
    (tmp_path / "cext/records.h").write_text("/* edited by hand */\n")
    assert generate.main(["--root", str(tmp_path), "--check"]) == 1
    assert "cext/records.h" in capsys.readouterr().err


def test_docs_name_every_record_field_and_the_schema_hash() -> None:
    from qk.schemas import records

    docs = generate.render_docs()
    assert f"0x{records.SCHEMA_HASH:016x}" in docs
    for layout in records.LAYOUTS:
        assert f"## {layout.name}" in docs
        for f in layout.fields:
            if not f.in_header:
                assert f"| {f.offset} | {f.size} | `{f.field_type.spelling}` | `{f.name}` |" in docs
