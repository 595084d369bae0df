"""The TOML configuration (CONTRACT section 3)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from rebalance import Config, ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "rebalance.toml"
    path.write_text(text, encoding="utf-8")
    return path


def key_problem(tmp_path: Path, text: str):
    """The single problem of a config that must be rejected."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.problems[0], str(info.value)


def test_defaults_are_the_contract():
    """Without a file every key has the contract's default."""
    c = Config()
    assert (c.city.name, c.city.timezone) == ("Paris", "Europe/Paris")
    assert c.demand.orders_per_courier_hour == 2.5
    assert c.eligibility.min_available_minutes == 60
    assert (c.costs.move_fixed_minutes, c.costs.shortage_minutes, c.costs.surplus_minutes) == (
        5,
        60,
        0,
    )
    assert c.travel.detour_factor == 1.3
    speeds = {k: (v.speed_kmh, v.max_move_minutes) for k, v in c.vehicles.items()}
    assert speeds == {"bike": (15, 20), "ebike": (20, 25), "scooter": (25, 30), "car": (22, 30)}
    assert (c.data.dir, c.slack.channel, c.history.path) == ("", "", "")


def test_full_contract_example_loads(tmp_path):
    """The contract's own example file is accepted as written."""
    text = Path(__file__).parent.parent.joinpath("data/samples/paris/rebalance.toml").read_text()
    assert load_config(write(tmp_path, text)).city.name == "Paris"


def test_partial_vehicle_table_keeps_other_defaults(tmp_path):
    """[vehicles.bike] speed_kmh alone keeps the bike's default range and the other vehicles."""
    c = load_config(write(tmp_path, "[vehicles.bike]\nspeed_kmh = 12\n"))
    assert (c.vehicles["bike"].speed_kmh, c.vehicles["bike"].max_move_minutes) == (12, 20)
    assert set(c.vehicles) == {"bike", "ebike", "scooter", "car"}


def test_vehicle_tables_are_named_in_any_case_as_couriers_vehicles_are(tmp_path):
    """couriers.csv's vehicles are read in any case; [vehicles.BIKE] was kept as a vehicle
    of its own that no courier could ride (the bike kept its defaults, silently), and
    [vehicles.Horse] made couriers riding "Horse" invalid. Now a table's name matches in
    any case: BIKE tunes the bike (and `config show` says the file set it), Horse is
    the horse the couriers ride, and the same vehicle twice is refused by key."""
    from util import VALID

    from rebalance import load
    from rebalance.config import config_sources

    c = load_config(write(tmp_path, "[vehicles.BIKE]\nspeed_kmh = 3\nmax_move_minutes = 3\n"))
    assert (c.vehicles["bike"].speed_kmh, c.vehicles["bike"].max_move_minutes) == (3, 3)
    assert set(c.vehicles) == {"bike", "ebike", "scooter", "car"}
    assert ("vehicles.bike.speed_kmh", 3.0, "file") in config_sources(c)
    assert (
        Config().with_changes(vehicles={"Bike": {"speed_kmh": 5}}).vehicles["bike"].speed_kmh == 5
    )
    problem, text = key_problem(
        tmp_path, "[vehicles.bike]\nspeed_kmh = 3\n[vehicles.BIKE]\nspeed_kmh = 4\n"
    )
    assert problem.key == "vehicles.BIKE" and "any case" in text
    with pytest.raises(ValueError, match="given twice"):
        Config(vehicles={"cargo": {"speed_kmh": 9, "max_move_minutes": 9}, "Cargo": {}})
    city = tmp_path / "city"
    city.mkdir()
    for name in ("zones.csv", "restaurants.csv", "couriers.csv"):
        (city / name).write_text((VALID / name).read_text())
    couriers = pd.read_csv(city / "couriers.csv", dtype=str, keep_default_na=False)
    couriers.loc[0, "vehicle"] = "Horse"
    couriers.to_csv(city / "couriers.csv", index=False)
    horse = load_config(
        write(tmp_path, "[vehicles.Horse]\nspeed_kmh = 12\nmax_move_minutes = 20\n")
    )
    assert "horse" in set(load(city, horse).couriers["vehicle"])


def test_new_vehicle_needs_both_keys(tmp_path):
    """A new vehicle without max_move_minutes names the missing key."""
    problem, _ = key_problem(tmp_path, "[vehicles.cargo]\nspeed_kmh = 12\n")
    assert problem.key == "vehicles.cargo.max_move_minutes"


def test_unknown_key_is_named(tmp_path):
    """A typo is an error naming the dotted key, not silently ignored."""
    problem, text = key_problem(tmp_path, "[costs]\nshortage_minute = 90\n")
    assert problem.key == "costs.shortage_minute"
    assert problem.key == "costs.shortage_minute" and "unknown key" in text
    assert "rebalance.toml" in text


def test_unknown_section_is_named(tmp_path):
    """An unknown table is an error naming it."""
    problem, _ = key_problem(tmp_path, "[solvers]\nthreads = 2\n")
    assert problem.key == "solvers"


def test_wrong_type_is_named(tmp_path):
    """A string where a number belongs names the key, the value and the expected type."""
    problem, text = key_problem(tmp_path, '[demand]\norders_per_courier_hour = "2.5"\n')
    assert problem.key == "demand.orders_per_courier_hour"
    assert "'2.5'" in text and "a number" in text
    problem, text = key_problem(tmp_path, "[shift]\nslot_minutes = 22.5\n")
    assert problem.key == "shift.slot_minutes" and "a whole number" in text


def test_negative_speed_is_out_of_range(tmp_path):
    """A negative speed names the key and the valid range."""
    problem, text = key_problem(tmp_path, "[vehicles.bike]\nspeed_kmh = -15\n")
    assert problem.key == "vehicles.bike.speed_kmh" and "> 0" in text


def test_unknown_timezone(tmp_path):
    """An unknown timezone names the key and suggests an IANA name."""
    problem, text = key_problem(tmp_path, '[city]\ntimezone = "Paris/France"\n')
    assert problem.key == "city.timezone" and "IANA" in text


def test_invalid_toml_is_reported(tmp_path):
    """Broken TOML syntax is a config error naming the file."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[city\nname = 1"))


def test_missing_config_file(tmp_path):
    """A config path that does not exist is a config error naming it."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_relative_paths_are_relative_to_the_file(tmp_path):
    """[data] dir and [history] path resolve against the config file's folder, not the cwd."""
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "rebalance.toml"
    path.write_text('[data]\ndir = "../city"\n[history]\npath = "state/h.sqlite3"\n')
    c = load_config(path)
    assert c.data_dir == (tmp_path / "conf" / "../city")
    assert c.history_path == tmp_path / "conf" / "state" / "h.sqlite3"


def test_history_default_in_user_data_dir():
    """A blank history path goes to the platform's user data dir."""
    assert Config().history_path.name == "history.sqlite3"
    assert "rebalance" in str(Config().history_path)


def test_with_changes_validates():
    """Config.with_changes returns a validated copy and rejects bad values by key."""
    c = Config().with_changes(costs={"shortage_minutes": 90}, vehicles={"bike": {"speed_kmh": 10}})
    assert c.costs.shortage_minutes == 90 and c.vehicles["bike"].speed_kmh == 10
    assert Config().costs.shortage_minutes == 60
    with pytest.raises(ConfigError, match=r"costs\.shortage_minutes"):
        Config().with_changes(costs={"shortage_minutes": -1})


def test_unknown_key_suggests_the_closest_and_lists_the_table(tmp_path):
    """A typo names the table's valid keys and the closest one, not a document users lack."""
    problem, text = key_problem(tmp_path, "[costs]\nshortage_minute = 90\n")
    assert problem.key == "costs.shortage_minute"
    assert "did you mean `shortage_minutes`?" in text
    assert "one of the keys of [costs]: move_fixed_minutes, shortage_minutes" in text
    assert "CONTRACT" not in text


def test_unknown_vehicle_key_and_unknown_table(tmp_path):
    """A vehicle's typo lists a vehicle's keys; an unknown table lists the tables."""
    _, text = key_problem(tmp_path, "[vehicles.bike]\nspeed = 12\n")
    assert "did you mean `speed_kmh`?" in text and "[vehicles.bike]: speed_kmh" in text
    _, text = key_problem(tmp_path, "[cost]\nshortage_minutes = 90\n")
    assert "did you mean `costs`?" in text and "[eligibility]" in text


@pytest.mark.parametrize(
    "key", ["move_fixed_minutes", "shortage_minutes", "surplus_minutes", "change_minutes"]
)
def test_every_cost_below_zero_is_refused_naming_its_key(tmp_path, key):
    """CONTRACT 3: an out-of-range value names the key. A negative change cost would
    pay the solver to change couriers' instructions; only shortage_minutes was tested."""
    path = tmp_path / "rebalance.toml"
    path.write_text(f"[costs]\n{key} = -5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"costs\.{key}"):
        load_config(path)


@pytest.mark.parametrize(
    "key", ["move_fixed_minutes", "shortage_minutes", "surplus_minutes", "change_minutes"]
)
def test_a_cost_the_solver_would_count_as_zero_is_refused(tmp_path, key):
    """Costs are solved in whole thousandths of a minute: 0.0004 (a tie-break, say)
    would silently count as 0 while the plan reads "optimal". It is refused naming the
    key and what would do; 0, 0.0006 (solved as 0.001, the nearest) and 0.001 are fine."""
    path = tmp_path / "rebalance.toml"
    path.write_text(f"[costs]\n{key} = 0.0004\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"costs\.{key}.*give 0 or at least 0\.001"):
        load_config(path)
    for fine in (0, 0.0006, 0.001):
        path.write_text(f"[costs]\n{key} = {fine}\n", encoding="utf-8")
        assert getattr(load_config(path).costs, key) == fine
    with pytest.raises(ConfigError, match=r"Config\.with_changes"):
        load_config().with_changes(costs={key: 1e-9})


def test_a_key_in_other_case_is_suggested_as_written_in_lower_case(tmp_path):
    """`[city] NAME` listed the keys without a suggestion (difflib finds "NAME" nothing
    like "name"), where `[City]` got "did you mean `city`?"."""
    _, text = key_problem(tmp_path, '[city]\nNAME = "Paris"\n')
    assert "did you mean `name`?" in text
    _, text = key_problem(tmp_path, "[costs]\nSHORTAGE_MINUTES = 90\n")
    assert "did you mean `shortage_minutes`?" in text


def test_starter_file_loads_to_the_defaults_and_names_every_key(tmp_path):
    """`config init`'s file is valid TOML giving the defaults, and mentions every key."""
    from rebalance.config import STARTER_TOML, config_sources

    path = write(tmp_path, STARTER_TOML)
    loaded = load_config(path)
    assert loaded.model_dump() == Config().model_dump()
    for key, _, _ in config_sources(Config()):
        assert key.rsplit(".", 1)[-1] in STARTER_TOML, key


def test_config_sources_say_file_or_default(tmp_path):
    """Each key says whether the file set it; resolved paths are shown resolved."""
    from rebalance.config import config_sources

    path = write(tmp_path, '[costs]\nshortage_minutes = 90.0\n[data]\ndir = "paris"\n')
    rows = {key: (value, where) for key, value, where in config_sources(load_config(path))}
    assert rows["costs.shortage_minutes"] == (90.0, "file")
    assert rows["costs.surplus_minutes"] == (0.0, "default")
    assert rows["data.dir"] == (str(tmp_path / "paris"), "file")
    assert rows["vehicles.bike.speed_kmh"] == (15.0, "default")


def test_approvers_must_be_a_list_of_slack_user_ids(tmp_path):
    """`approvers = "U123"` says a list of user IDs is wanted (it said only "wrong
    type"); a name or an @handle, which no click would ever match, is refused."""
    problem, text = key_problem(tmp_path, '[slack]\napprovers = "U0123ABCD"\n')
    assert problem.key == "slack.approvers"
    assert 'a list of Slack user IDs, e.g. ["U0123ABCD"' in text
    problem, text = key_problem(tmp_path, '[slack]\napprovers = ["U0LEAD", "@alice"]\n')
    assert problem.key == "slack.approvers"
    assert "'@alice' is not a Slack user ID" in text and "Copy member ID" in text
    ok = load_config(write(tmp_path, '[slack]\napprovers = ["U0LEAD", "W0GRID1"]\n'))
    assert ok.slack.approvers == ["U0LEAD", "W0GRID1"]


@pytest.mark.parametrize("key", ["channel", "approval_channel"])
def test_slack_channels_must_be_channel_ids_when_the_config_is_read(tmp_path, key):
    """A channel name in [slack] is refused when the config is read, so `rebalance
    validate --config` says so: it passed, and the cron run failed at publishing."""
    problem, text = key_problem(tmp_path, f'[slack]\n{key} = "#general"\n')
    assert problem.key == f"slack.{key}"
    assert "not a Slack channel ID" in text and "'#general'" in text
    from typer.testing import CliRunner
    from util import VALID

    from rebalance.cli import app

    result = CliRunner().invoke(
        app, ["validate", str(VALID), "--config", str(write(tmp_path, f'[slack]\n{key} = "ops"\n'))]
    )
    assert result.exit_code == 3 and f"slack.{key}" in result.output
    for good in ("C0123ABCD", "G0PRIVATE", ""):
        assert (
            getattr(load_config(write(tmp_path, f'[slack]\n{key} = "{good}"\n')).slack, key) == good
        )


def test_a_config_that_is_a_folder_is_exit_3_as_a_missing_one(tmp_path):
    """--config naming a folder is a configuration that cannot be read (exit 3, naming
    it), as a missing file is; it was a usage error (exit 2), by click's own check."""
    from typer.testing import CliRunner
    from util import VALID

    from rebalance.cli import app

    for args in (["validate", str(VALID)], ["history"]):
        result = CliRunner().invoke(app, [*args, "--config", str(tmp_path)])
        assert result.exit_code == 3, result.output
        assert str(tmp_path) in result.output and "cannot read config file" in result.output
        missing = CliRunner().invoke(app, [*args, "--config", str(tmp_path / "none.toml")])
        assert missing.exit_code == 3


def test_a_city_name_with_a_newline_is_shown_on_one_line_by_validate(tmp_path):
    """[city] name is shown, not obeyed: validate's OK line writes a newline in it out
    (`\\x0a`) instead of printing a second line that looks like its own output."""
    from typer.testing import CliRunner
    from util import VALID

    from rebalance.cli import app

    path = write(tmp_path, '[city]\nname = "Ly\\nOK forged"\n')
    result = CliRunner().invoke(app, ["validate", str(VALID), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid input for Ly\\x0aOK forged" in result.stdout
    assert not any(line.startswith("OK forged") for line in result.stdout.splitlines())


def test_shift_hours_are_whole_minutes_and_4_1_h_is_246(tmp_path):
    """4.01 h (240.6 minutes) is refused naming the key and nearby lengths; 4.1 h is 246
    minutes, not the 245.99999 that float hours gave (which no slot length divided)."""
    problem, text = key_problem(tmp_path, "[shift]\nhours = 4.01\n")
    assert problem.key == "shift.hours" and "240.6 minutes" in text and "4 or 4.25" in text
    config = load_config(write(tmp_path, "[shift]\nhours = 4.1\nslot_minutes = 6\n"))
    assert config.shift.length_minutes == 246
    from util import SHIFT, VALID

    from rebalance import load, solve

    plan = solve(load(VALID, config), config, SHIFT)
    assert plan.status == "optimal"
    assert plan.shift_end - plan.shift_start == pd.Timedelta(minutes=246)
    assert plan.slots["slot_start"].nunique() == 41


def test_a_shift_length_the_default_slots_do_not_divide_blames_hours(tmp_path):
    """[shift] hours = 4.1 with the default 30-minute slots: validate (without
    --shift-start) and plan exit 3 naming the file and `shift.hours`, with lengths that
    work; it passed validate, and plan blamed the default slot_minutes "(got 30)"."""
    from typer.testing import CliRunner
    from util import SHIFT, VALID

    from rebalance.cli import app

    path = write(tmp_path, "[shift]\nhours = 4.1\n")
    for args in (["validate", str(VALID)], ["plan", str(VALID), "--shift-start", SHIFT]):
        result = CliRunner().invoke(app, [*args, "--config", str(path)])
        assert result.exit_code == 3, result.output
        text = " ".join(result.stderr.split())
        assert f"{path}, key 'shift.hours'" in text, text
        assert "246 minutes" in text and "e.g. 4 or 4.5" in text and "(got 30)" not in text


def test_a_config_saved_with_a_byte_order_mark_loads(tmp_path):
    """Windows Notepad starts a UTF-8 file with a byte order mark: the config loads (it
    was refused as invalid TOML at its first character)."""
    path = tmp_path / "rebalance.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[city]\nname = "Lyon"\n')
    assert load_config(path).city.name == "Lyon"


def test_a_shift_shorter_than_a_minute_and_a_deeply_nested_file_are_refused(tmp_path):
    """hours = 1e-8 passed the whole-minutes check and made a 0-minute shift (plan exited
    1 with a traceback); a TOML of arrays nested 5,000 deep raised RecursionError. Both
    are now configuration errors naming the file (and the key)."""
    problem, text = key_problem(tmp_path, "[shift]\nhours = 1e-8\n")
    assert problem.key == "shift.hours" and "at least 1 minute" in text
    problem, text = key_problem(tmp_path, "[shift]\nhours = 4.0000001\n")
    assert "240.000006 minutes" in text
    deep = "[city]\nx = " + "[" * 5000 + "]" * 5000 + "\n"
    problem, text = key_problem(tmp_path, deep)
    assert "nested too deeply" in text and problem.file.endswith("rebalance.toml")


def test_a_bad_change_names_the_call_not_the_file_the_config_came_from(tmp_path):
    """Config.with_changes(demand={"orders_per_courier_hour": 0}) on a config read from
    a file said "rebalance.toml, key 'demand.orders_per_courier_hour': ...", sending
    the analyst to a file that is fine. It now names the call that made the change."""
    path = tmp_path / "rebalance.toml"
    path.write_text('[city]\nname = "X"\n')
    config = load_config(path)
    with pytest.raises(ConfigError) as caught:
        config.with_changes(demand={"orders_per_courier_hour": 0})
    (problem,) = caught.value.problems
    assert problem.file == "Config.with_changes(...)"
    assert problem.key == "demand.orders_per_courier_hour"
    assert str(path) not in str(caught.value) and "expected a number >= 0.01" in str(caught.value)
