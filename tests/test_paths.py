"""The filesystem layout and the city slug: one rule each (rebalance.paths)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from rebalance.config import Config
from rebalance.paths import batch_out, lock_path, locks_dir, run_dir, slug

SHIFT = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Paris", "paris"),
        ("  New York ", "new-york"),
        ("St. Louis", "st-louis"),
        ("Saint-Denis", "saint-denis"),
        ("São Paulo", "são-paulo"),
        ("東京", "東京"),
        ("a__b", "a-b"),
    ],
)
def test_slug_folds_case_and_joins_words_with_one_dash(name: str, expected: str) -> None:
    """A city's slug is case-folded, punctuation and blanks become one dash, any script kept."""
    assert slug(name) == expected


def test_slug_is_cut_to_a_bounded_length() -> None:
    """A very long city name gives a slug short enough for a file name."""
    assert len(slug("x" * 500)) == 60
    assert not slug("ab " * 40).endswith("-")
    assert slug("ab " * 40).startswith("ab-ab-")


def test_names_that_lose_more_than_case_and_punctuation_keep_slugs_of_their_own() -> None:
    """The slug is the city part of a plan key (which channel message a plan revises).
    Names without a letter or digit were all `city`, and long names alike in their first
    60 characters shared a slug: one city's plan overwrote another's message."""
    emoji = [slug(name) for name in ("🚲", "🛵🛵🛵", "★", "!!!", "")]
    assert len(set(emoji)) == 5
    assert all(s.startswith("city-") and len(s) == 13 for s in emoji)
    assert slug("🚲") == slug(" 🚲 ")  # blanks around a name are not part of it
    long = "Communauté d'agglomération du Grand Sud-Ouest de la métropole, secteur "
    a, b = slug(long + "Nord"), slug(long + "Est")
    assert a != b and len(a) == len(b) == 60
    assert a.startswith("communauté-d-agglomération-du-grand-sud-ouest-de-la-")
    assert slug(long.upper() + "NORD!") == a  # still case and punctuation alone
    # names whose slug is whole are as before
    assert slug("x" * 60) == "x" * 60
    assert slug("St. Louis") == slug("st louis") == "st-louis"


def test_marks_stay_with_their_letters_in_a_slug() -> None:
    """Devanagari and Thai write vowels as marks on a letter; taken as separators they
    made Delhi's folders and Slack files `द-ल-ल` and Mumbai's `म-बई`. Turkish `İ`
    case-folds to `i` and a combining dot (`i-stanbul`). A name typed decomposed (NFD,
    as some systems write it) has the slug of the same name composed."""
    import unicodedata

    assert slug("दिल्ली") == "दिल्ली" and slug("मुंबई") == "मुंबई"
    assert slug("กรุงเทพมหานคร") == "กรุงเทพมหานคร"
    assert slug("İstanbul") == slug("Istanbul") == "istanbul" and slug("İzmir") == "izmir"
    assert slug(unicodedata.normalize("NFD", "Hà Nội")) == slug("Hà Nội") == "hà-nội"
    # a mark alone after a blank belongs to no letter: still a separator
    assert slug("x \u0308a") == "x-a"


def test_lock_paths_separate_cities_shifts_and_dry_runs(tmp_path: Path) -> None:
    """Cities with the same slug, other shifts and dry runs get their own lock files."""
    history = tmp_path / "history.sqlite3"
    a = lock_path(history, "Saint-Denis", SHIFT)
    assert a.parent == tmp_path / "locks" == locks_dir(history)
    assert a.name.startswith("saint-denis-") and "20261130T1800Z" in a.name
    assert a != lock_path(history, "Saint Denis", SHIFT)
    assert a != lock_path(history, "Saint-Denis", SHIFT.replace(hour=19))
    assert a != lock_path(history, "Saint-Denis", SHIFT, dry_run=True)
    assert lock_path(history, "Saint-Denis", SHIFT) == a


def test_lock_path_names_the_same_instant_the_same_way(tmp_path: Path) -> None:
    """One shift written in two timezones locks the same file."""
    history = tmp_path / "history.sqlite3"
    paris = pd.Timestamp("2026-11-30T19:00", tz="Europe/Paris")
    assert lock_path(history, "Paris", paris) == lock_path(history, "Paris", SHIFT)


def test_run_dir_sits_next_to_the_history_under_city_and_local_shift(tmp_path: Path) -> None:
    """A run's plan folder is runs/<slug>/<shift in city time>/<run id> beside the history."""
    shift = pd.Timestamp("2026-11-30T19:00", tz="Europe/Paris")
    path = run_dir(tmp_path / "history.sqlite3", "São Paulo", shift, "RUN1")
    assert path == tmp_path / "runs" / "são-paulo" / "20261130T1900" / "RUN1"


def test_default_history_path_is_used_when_the_config_leaves_it_blank() -> None:
    """A blank [history] path means the platform's user data folder, history.sqlite3."""
    path = Config().history_path
    assert path.name == "history.sqlite3" and "rebalance" in path.parts


def test_batch_out_is_named_after_the_shift_as_written() -> None:
    """batch's default output folder carries the wall-clock shift start."""
    assert batch_out(pd.Timestamp("2026-11-30T19:00+01:00")) == Path("batch-20261130T1900")


def test_an_upgrade_keeps_the_lock_and_finds_the_run_folders_of_cities_with_marks(tmp_path):
    """A release of before 2026-12-07 slugged Delhi (दिल्ली) as द-ल-ल. During an upgrade
    both releases must lock the same file for a shift, and a crashed run's folder of the
    old release must still be found (its temporary copies swept): untested, either
    could change without a test failing."""
    from datetime import UTC, datetime

    from rebalance.paths import lock_path, run_dir, run_dirs, slug_before_marks

    shift = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    assert slug_before_marks("दिल्ली") == "द-ल-ल"
    assert lock_path(tmp_path, "दिल्ली", shift).name.startswith("द-ल-ल-")
    here, there = run_dirs(tmp_path, "दिल्ली", shift, "r1")
    assert here == run_dir(tmp_path, "दिल्ली", shift, "r1") and "द-ल-ल" in there.parts
    assert run_dirs(tmp_path, "Paris", shift, "r1") == [run_dir(tmp_path, "Paris", shift, "r1")]
