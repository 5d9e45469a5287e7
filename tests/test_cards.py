"""Card numbering, names and the module's constants."""

from __future__ import annotations

import pytest

import blobmaster as bm


def test_constants_match_the_rules() -> None:
    assert bm.BID_OFFSET == 52
    assert bm.NUM_ACTIONS == 66
    assert bm.OBS_SIZE == 256
    assert (bm.MIN_PLAYERS, bm.MAX_PLAYERS, bm.MAX_CARDS) == (3, 8, 13)


def test_version_and_exports() -> None:
    assert isinstance(bm.__version__, str) and bm.__version__
    assert bm._core.build_profile in ("debug", "release")
    for name in bm.__all__:
        assert hasattr(bm, name), name


@pytest.mark.parametrize(
    ("index", "name"),
    [
        (0, "2S"),
        (12, "AS"),
        (13, "2H"),
        (21, "10H"),
        (26, "2C"),
        (38, "AC"),
        (49, "QD"),
        (51, "AD"),
    ],
)
def test_known_names(index: int, name: str) -> None:
    assert bm.card_name(index) == name
    assert bm.card_index(name) == index


def test_every_card_round_trips() -> None:
    names = [bm.card_name(i) for i in range(52)]
    assert len(set(names)) == 52
    assert [bm.card_index(n) for n in names] == list(range(52))


@pytest.mark.parametrize("name", ["10h", "th", "TH", " 10H "])
def test_parsing_is_lenient_about_case_and_ten(name: str) -> None:
    assert bm.card_index(name) == 21


@pytest.mark.parametrize("name", ["", "1S", "11H", "AX", "A", "SA", "ÄS", "10", "AS AS", "2S\x00"])
def test_bad_names_are_value_errors(name: str) -> None:
    with pytest.raises(ValueError, match="not a card"):
        bm.card_index(name)


@pytest.mark.parametrize("index", [-1, 52, 255, 256, -(2**40), 2**70])
def test_bad_indices_are_value_errors(index: int) -> None:
    with pytest.raises(bm.InvalidArgumentError, match="out of range"):
        bm.card_name(index)


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError):
        bm.card_name("AS")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bm.card_name(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        bm.card_index(5)  # type: ignore[arg-type]
