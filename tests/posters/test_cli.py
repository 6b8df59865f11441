"""`tipline posters`: what it writes, and that it writes nothing when it refuses."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import make_test_app
from tests.posters.conftest import Network, outline, page_boxes, page_texts, short_url
from tipline.cli import main
from tipline.db import Database
from tipline.posters.layouts import posters_dir

Cli = Callable[..., Result]


def test_one_placement_gives_one_page(posters_cli: Cli, network: Network, tmp_path: Path) -> None:
    out = tmp_path / "one.pdf"
    pl = network.montreal
    result = posters_cli("--placement", pl.code, "--size", "a4", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "1 pages, A4" in result.output
    (text,) = page_texts(out.read_bytes())
    assert short_url(pl.code) in text
    assert text.index("Signalez") < text.index("Report human trafficking")  # French first


def test_a_station_gives_a_multi_page_pdf_with_an_outline(
    posters_cli: Cli, network: Network, tmp_path: Path
) -> None:
    out = tmp_path / "nyp.pdf"
    result = posters_cli("--station", "NYP", "-o", str(out))
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert [short_url(p.code) in t for p, t in zip(network.nyp, page_texts(pdf), strict=True)]
    assert outline(pdf) == [
        (0, "New York Penn Station (NYP)"),
        (1, f"Men's restroom, concourse B · {network.nyp[0].code[:4]}-{network.nyp[0].code[4:]}"),
        (1, f"Women's restroom, concourse A · {network.nyp[1].code[:4]}-{network.nyp[1].code[4:]}"),
    ]


def test_all_is_stable_and_outlined_by_station_and_train(
    posters_cli: Cli, network: Network, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    assert posters_cli("--all", "--size", "tabloid", "-o", str(first)).exit_code == 0
    assert posters_cli("--all", "--size", "tabloid", "-o", str(second)).exit_code == 0
    texts = page_texts(first.read_bytes())
    assert len(texts) == len(network.all)
    for placement, text in zip(network.all, texts, strict=True):
        assert short_url(placement.code) in text
    groups = [title for level, title in outline(first.read_bytes()) if level == 0]
    assert groups == [
        "Montréal Gare Centrale — Salle des Pas Perdus, Québec (MTRL)",
        "New York Penn Station (NYP)",
        "Ny Moynihan Train Hall At Penn Station (NYM)",
        "Train 66 · Northeast Regional",
    ]
    assert page_texts(second.read_bytes()) == texts


def test_bleed_makes_pages_larger_than_the_trim(
    posters_cli: Cli, network: Network, tmp_path: Path
) -> None:
    out = tmp_path / "bleed.pdf"
    assert (
        posters_cli("--train", "66", "--size", "sticker", "--bleed", "-o", str(out)).exit_code == 0
    )
    for page in page_boxes(out.read_bytes()):
        x0, y0, x1, y1 = page["TrimBox"]
        assert (round(x1 - x0), round(y1 - y0)) == (288, 432)
        assert page["MediaBox"][2] > x1


def test_zip_gives_one_pdf_per_placement_named_by_code(
    posters_cli: Cli, network: Network, tmp_path: Path
) -> None:
    out = tmp_path / "train66.zip"
    result = posters_cli("--train", "66", "--zip", "-o", str(out))
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(io.BytesIO(out.read_bytes()))
    assert archive.namelist() == [f"{p.code}.pdf" for p in network.train66]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--station", "XYZ"], "no station 'XYZ'"),
        (["--train", "9999"], "no train '9999'"),
        (["--placement", "NOPE"], "not a placement code"),
        (["--station", "NWK"], "Newark Penn Station (NWK) has no active placements"),
    ],
)
def test_unknown_codes_and_empty_selections_fail_and_write_nothing(
    posters_cli: Cli, network: Network, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = posters_cli(*args, "-o", str(folder / "never.pdf"))
    assert result.exit_code == 1
    assert message in result.output
    assert list(folder.iterdir()) == []  # neither the PDF nor a temporary file


def test_an_empty_network_fails_and_keeps_an_older_file(posters_cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "network.pdf"
    out.write_bytes(b"last week's posters")
    result = posters_cli("--all", "-o", str(out))
    assert result.exit_code == 1
    assert "there are no active placements" in result.output
    assert out.read_bytes() == b"last week's posters"
    assert list(folder.iterdir()) == [out]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose exactly one of"),
        (["--station", "NYP", "--all"], "choose exactly one of"),
        (["--all", "--size", "a3"], "no poster layout 'a3'"),
    ],
)
def test_usage_errors_exit_2(
    posters_cli: Cli, network: Network, tmp_path: Path, args: list[str], message: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    result = posters_cli(*args, "-o", str(folder / "x.pdf"))
    assert result.exit_code == 2
    assert message in result.output
    assert list(folder.iterdir()) == []


def test_a_missing_folder_is_a_clear_error(
    posters_cli: Cli, network: Network, tmp_path: Path
) -> None:
    result = posters_cli("--all", "-o", str(tmp_path / "no" / "such" / "network.pdf"))
    assert result.exit_code == 1
    assert "cannot write" in result.output


def test_posters_dir_points_at_a_program_s_own_wording_and_bad_data_is_a_clear_error(
    _migrated: str, network: Network, tmp_path: Path
) -> None:
    own = Path(shutil.copytree(posters_dir(), tmp_path / "own-posters"))
    program = own / "program.toml"
    program.write_text(program.read_text().replace("Transit Safety Task Force", "Empire Line"))
    app = make_test_app(_migrated, tmp_path / "inst", POSTERS_DIR=str(own))
    out = tmp_path / "own.pdf"
    runner = app.test_cli_runner()
    # The network fixture holds the default app's context; this app's must be the current one.
    with app.app_context():
        result = runner.invoke(main, ["posters", "--all", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert all("Empire Line" in text for text in page_texts(out.read_bytes()))
        program.write_text(program.read_text().replace("ink = [0, 0, 0, 100]", "ink = [0, 0]"))
        result = runner.invoke(main, ["posters", "--all", "-o", str(out)])
        assert result.exit_code == 1
        assert "program: colours.ink: a colour is four CMYK percentages" in result.output
    Database.engine(app).dispose()
