"""ODS names in a readable case: a pure function, tested on the shapes ODS names take."""

import pytest

from app.ods.names import readable


@pytest.mark.parametrize(
    ("ods", "shown"),
    [
        ("LEEDS TEACHING HOSPITALS NHS TRUST", "Leeds Teaching Hospitals NHS Trust"),
        ("THE ROTHERHAM NHS FOUNDATION TRUST", "The Rotherham NHS Foundation Trust"),
        ("NHS WEST YORKSHIRE INTEGRATED CARE BOARD", "NHS West Yorkshire Integrated Care Board"),
        ("NHS BRADFORD ICB - 02N", "NHS Bradford ICB - 02N"),  # a code keeps its case
        ("LEEDS CENTRAL PCN", "Leeds Central PCN"),
        ("BURLEY PARK GP SURGERY", "Burley Park GP Surgery"),
        ("CARE 4 ALL CIC", "Care 4 All CIC"),
        ("PUBLIC HEALTH ENGLAND UK", "Public Health England UK"),
        ("ISLE OF WIGHT NHS TRUST", "Isle of Wight NHS Trust"),
        ("STOCKTON-ON-TEES BOROUGH COUNCIL", "Stockton-on-Tees Borough Council"),
        ("ST JOHN'S SURGERY", "St John's Surgery"),
        ("O'NEILL AND PARTNERS", "O'Neill and Partners"),
        ("OF COURSE OF LEEDS", "Of Course of Leeds"),  # the first word is never small
        ("DR SMITH & PARTNERS", "Dr Smith & Partners"),
        ("  SPACED   OUT  ", "Spaced Out"),
    ],
)
def test_capitals_become_readable(ods: str, shown: str) -> None:
    assert readable(ods) == shown


def test_a_name_with_lower_case_letters_is_kept_as_it_is() -> None:
    assert readable("Leeds Teaching Hospitals NHS Trust") == "Leeds Teaching Hospitals NHS Trust"
    assert readable("iCare GP") == "iCare GP"
