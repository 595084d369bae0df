"""Configuration: the TOML file of CONTRACT section 3, validated with pydantic.

Every key is optional and has the contract's default. An unknown key, a wrong type or
an out-of-range value raises `ConfigError` naming the dotted key. Relative paths in
a config file are relative to that file's folder.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import ranges
from .errors import ConfigError, Issue

__all__ = [
    "DEFAULT_VEHICLES",
    "STARTER_TOML",
    "Config",
    "VehicleConfig",
    "config_sources",
    "load_config",
]


class _Section(BaseModel):
    # strict: "2.5" is not a number, true is not a number; extra keys are typos.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CityConfig(_Section):
    name: str = "Paris"
    timezone: str = "Europe/Paris"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'Europe/Paris'"
            ) from exc
        return value


class DemandConfig(_Section):
    orders_per_courier_hour: float = Field(
        2.5,
        ge=ranges.MIN_ORDERS_PER_COURIER_HOUR,
        allow_inf_nan=False,
    )


class EligibilityConfig(_Section):
    min_available_minutes: float = Field(
        60, ge=0, le=ranges.MAX_WINDOW_MINUTES, allow_inf_nan=False
    )


class CostsConfig(_Section):
    # Bounded so that the solver's int64 costs stay exact (see `ranges`).
    move_fixed_minutes: float = Field(5.0, ge=0, le=ranges.MAX_COST_MINUTES, allow_inf_nan=False)
    shortage_minutes: float = Field(60.0, ge=0, le=ranges.MAX_COST_MINUTES, allow_inf_nan=False)
    surplus_minutes: float = Field(0.0, ge=0, le=ranges.MAX_COST_MINUTES, allow_inf_nan=False)
    #: A re-plan's changed instruction to a courier costs this much (CONTRACT section 9).
    change_minutes: float = Field(10.0, ge=0, le=ranges.MAX_COST_MINUTES, allow_inf_nan=False)

    @field_validator("move_fixed_minutes", "shortage_minutes", "surplus_minutes", "change_minutes")
    @classmethod
    def _counted(cls, value: float) -> float:
        # The solver counts costs in whole thousandths of a minute (`rebalance.model`):
        # 0.0004 would be solved as 0 while the plan read "optimal" for the cost given
        # (0.0006 is solved as 0.001, as any cost is rounded to the nearest thousandth).
        if value > 0 and round(value * ranges.SCALE) == 0:  # as `rebalance.model` rounds it
            raise ValueError(
                "under half the solver's unit of 0.001 minute (costs are counted in whole "
                "thousandths of a minute), so it would count as 0: give 0 or at least 0.001"
            )
        return value


class ShiftConfig(_Section):
    """The shift's length and its slots (CONTRACT section 7)."""

    hours: float = Field(4.0, gt=0, le=ranges.MAX_SHIFT_HOURS, allow_inf_nan=False)
    slot_minutes: int = Field(30, gt=0, le=ranges.MAX_SLOT_MINUTES)

    @field_validator("hours")
    @classmethod
    def _whole_minutes(cls, value: float) -> float:
        minutes = value * 60
        if round(minutes) < 1:
            raise ValueError(
                f"a shift of {value:.6g} h is {minutes:.6g} minutes: give at least 1 minute "
                "(e.g. 0.25 for 15 minutes)"
            )
        if abs(minutes - round(minutes)) > 1e-6:
            raise ValueError(
                f"a shift of {value:.10g} h is {minutes:.10g} minutes: give a whole number of "
                f"minutes, e.g. {_hours_near(value, 0.25)}"
            )
        return value

    @property
    def length_minutes(self) -> int:
        """The shift in whole minutes: 4.1 h is 246 (not 4:05:59.999999999, which float
        hours gave and no slot length divided)."""
        return round(self.hours * 60)

    @property
    def length(self) -> timedelta:
        """The shift, to add to its start (a `pd.Timestamp` plus it is one)."""
        return timedelta(minutes=self.length_minutes)


class SolverConfig(_Section):
    """How long the solver may search before it reports its best plan and bound."""

    time_limit_seconds: float = Field(
        120.0, gt=0, le=ranges.MAX_TIME_LIMIT_SECONDS, allow_inf_nan=False
    )


class TravelConfig(_Section):
    detour_factor: float = Field(1.3, gt=0, le=ranges.MAX_DETOUR_FACTOR, allow_inf_nan=False)


class VehicleConfig(_Section):
    speed_kmh: float = Field(gt=0, le=ranges.MAX_SPEED_KMH, allow_inf_nan=False)
    max_move_minutes: float = Field(ge=0, le=ranges.MAX_MOVE_MINUTES, allow_inf_nan=False)


class DataConfig(_Section):
    dir: str = ""


#: A Slack user ID: U (or W, an Enterprise Grid user) and capitals and digits.
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
#: A Slack channel ID: C (public), G (private) or D (direct message), then the same.
_SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")


def is_channel_id(text: str) -> bool:
    """Whether ``text`` (blanks around it aside) is a Slack channel ID, not a name: the
    one rule for the config keys, ``--channel`` and the publisher's target."""
    return _SLACK_CHANNEL_ID.fullmatch(text.strip()) is not None


class SlackConfig(_Section):
    channel: str = ""
    #: When set, `run` posts the plan here with Approve/Hold buttons (CONTRACT section 10).
    approval_channel: str = ""
    #: Slack user IDs allowed to approve plans and change the shift from the channel.
    approvers: list[str] = Field(default_factory=list)

    @field_validator("channel", "approval_channel")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        # A channel is addressed by its ID: with a name every post would fail, and only
        # when a cron run publishes (`validate` now says so first).
        if value.strip() and not is_channel_id(value):
            raise ValueError(
                "not a Slack channel ID: give an ID such as 'C0123ABCD' "
                "(channel details, bottom of the About tab), not the channel's name"
            )
        return value

    @field_validator("approvers")
    @classmethod
    def _user_ids(cls, value: list[str]) -> list[str]:
        # A name or an @handle never matches a click's user ID: nobody could approve.
        for entry in value:
            if not _SLACK_USER_ID.fullmatch(entry):
                raise ValueError(
                    f'{entry!r} is not a Slack user ID: give IDs such as "U0123ABCD" '
                    "(a profile's menu > Copy member ID), not names or @handles"
                )
        return value


class HistoryConfig(_Section):
    path: str = ""


DEFAULT_VEHICLES: dict[str, dict[str, float]] = {
    "bike": {"speed_kmh": 15.0, "max_move_minutes": 20.0},
    "ebike": {"speed_kmh": 20.0, "max_move_minutes": 25.0},
    "scooter": {"speed_kmh": 25.0, "max_move_minutes": 30.0},
    "car": {"speed_kmh": 22.0, "max_move_minutes": 30.0},
}


class Config(_Section):
    """The whole configuration. Build with `load_config` or `Config()` for defaults."""

    city: CityConfig = CityConfig()
    demand: DemandConfig = DemandConfig()
    eligibility: EligibilityConfig = EligibilityConfig()
    costs: CostsConfig = CostsConfig()
    travel: TravelConfig = TravelConfig()
    shift: ShiftConfig = ShiftConfig()
    solver: SolverConfig = SolverConfig()
    vehicles: dict[str, VehicleConfig] = Field(
        default_factory=lambda: {k: VehicleConfig(**v) for k, v in DEFAULT_VEHICLES.items()}
    )
    data: DataConfig = DataConfig()
    slack: SlackConfig = SlackConfig()
    history: HistoryConfig = HistoryConfig()

    @field_validator("vehicles", mode="before")
    @classmethod
    def _vehicle_names(cls, value: Any) -> Any:
        # couriers.csv's vehicles are read in any case and lowered: a table named BIKE
        # was a vehicle no courier could ride, and the bike it meant kept its defaults
        if not isinstance(value, dict):
            return value
        lowered: dict[Any, Any] = {}
        for name, fields in value.items():
            key = _vehicle_key(name)
            if key in lowered:
                raise ValueError(
                    f"vehicle {name!r} is given twice (vehicle names match in any case, "
                    "as in couriers.csv)"
                )
            lowered[key] = fields
        return lowered

    #: Folder that relative paths are resolved against (the config file's folder).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)
    #: The file this configuration came from, if any.
    source: Path | None = Field(default=None, exclude=True)

    @property
    def data_dir(self) -> Path | None:
        """`[data] dir` resolved against the config file's folder, or None when blank."""
        return self.resolve(self.data.dir) if self.data.dir else None

    @property
    def history_path(self) -> Path:
        """`[history] path` resolved, or the default in the platform's user data dir."""
        if self.history.path:
            return self.resolve(self.history.path)
        from .paths import default_history_path

        return default_history_path()

    def resolve(self, path: str | Path) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def with_changes(self, **sections: dict[str, Any]) -> Config:
        """A copy with some keys changed, validated: ``with_changes(costs={"shortage_minutes": 90})``."""
        from collections.abc import Mapping

        raw = self.model_dump(mode="python")
        for section, values in sections.items():
            if not isinstance(values, Mapping):
                raise TypeError(
                    f"with_changes({section}=...): each section takes a mapping of its keys, "
                    f"got {type(values).__name__} {values!r:.60}; e.g. "
                    'with_changes(demand={"orders_per_courier_hour": 3.0})'
                )
            if section == "vehicles":
                merged = dict(raw["vehicles"])
                for name, fields in values.items():
                    key = _vehicle_key(name)
                    merged[key] = {**merged.get(key, {}), **fields}
                raw["vehicles"] = merged
            else:
                raw[section] = {**raw.get(section, {}), **values}
        try:
            return _build(raw, base_dir=self.base_dir, source=self.source, merge_vehicles=False)
        except ConfigError as exc:
            # the values came from this call, not from the file the config was read from
            # (the message blamed "rebalance.toml, key ..." for a notebook's change)
            import dataclasses

            where = "Config.with_changes(...)"
            raise ConfigError(
                [dataclasses.replace(p, file=where) for p in exc.problems], title=exc.title
            ) from None


def as_config(config: Any, call: str) -> Config:
    """``config`` when it is a `Config`, the defaults for None; else a TypeError saying
    what to pass (a notebook gave a path, or a shift start in its place, and met
    "'str' object has no attribute 'city'" from deep inside)."""
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    shown = repr(config) if len(repr(config)) <= 60 else repr(config)[:57] + "..."
    hint = ""
    if isinstance(config, str | Path):
        hint = "; read a file with rebalance.load_config(path)"
        if call.startswith("solve"):
            hint += ", and give the shift start third: solve(inputs, config, shift_start)"
    raise TypeError(
        f"{call}: config must be a rebalance.Config or None, got {type(config).__name__} "
        f"{shown}{hint}"
    )


def load_config(path: str | Path | None = None) -> Config:
    """Read and validate a TOML config file; None gives the defaults.

    Raises `ConfigError` naming the file and the dotted key of every problem.
    """
    if path is None:
        return Config()
    from .errors import as_path

    file = as_path(
        path,
        "load_config(path)",
        "path must be a TOML file's path (a str or pathlib.Path)",
        hint="for settings in Python: Config().with_changes(shift={'hours': 3}) and the like"
        if isinstance(path, dict | Config)
        else "",
    )
    try:
        # utf-8-sig: a byte order mark (Windows Notepad writes one) is not TOML's error
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        from .paths import tilde_hint

        raise ConfigError(
            Issue("config file not found", file=str(file), valid=tilde_hint(file)),
            title="invalid configuration",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            Issue("config file is not UTF-8 text", file=str(file), valid="a UTF-8 TOML file"),
            title="invalid configuration",
        ) from exc
    except OSError as exc:
        raise ConfigError(
            Issue(f"cannot read config file: {exc.strerror}", file=str(file)),
            title="invalid configuration",
        ) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            Issue(f"not valid TOML: {exc}", file=str(file)), title="invalid configuration"
        ) from exc
    except RecursionError:  # arrays nested thousands deep: no configuration of ours
        raise ConfigError(
            Issue("nested too deeply to be a rebalance configuration", file=str(file)),
            title="invalid configuration",
        ) from None
    return _build(raw, base_dir=file.resolve().parent, source=file, merge_vehicles=True)


def _build(
    raw: dict[str, Any], *, base_dir: Path, source: Path | None, merge_vehicles: bool
) -> Config:
    problems: list[Issue] = []
    file = str(source) if source else None
    vehicles = raw.get("vehicles")
    if merge_vehicles and isinstance(vehicles, dict):
        # A [vehicles.bike] table tunes the default bike (in any case: [vehicles.BIKE]
        # too, as couriers.csv's vehicles are read); a new name adds a vehicle.
        merged: dict[str, Any] = {k: dict(v) for k, v in DEFAULT_VEHICLES.items()}
        given: dict[Any, str] = {}
        for name, fields in vehicles.items():
            key = _vehicle_key(name)
            if key in given:
                problems.append(
                    Issue(
                        f"vehicle {name!r} is [vehicles.{given[key]}] again (vehicle names "
                        "match in any case, as in couriers.csv)",
                        file=file,
                        key=f"vehicles.{name}",
                        valid="each vehicle once",
                    )
                )
            given[key] = name
            if isinstance(fields, dict):
                merged[key] = {**merged.get(key, {}), **fields}
            else:
                merged[key] = fields
        if problems:
            raise ConfigError(problems, title="invalid configuration")
        raw = {**raw, "vehicles": merged}
    try:
        config = Config(**raw, base_dir=base_dir, source=source)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"])
            problems.append(
                Issue(_explain(err), file=file, key=key, value=_value(err), valid=_valid(err))
            )
        raise ConfigError(problems, title="invalid configuration") from None
    except TypeError as exc:  # a section that is not a table, e.g. `city = "Paris"`
        raise ConfigError(Issue(str(exc), file=file), title="invalid configuration") from None
    return config


def _vehicle_key(name: Any) -> Any:
    """A vehicle's name as couriers.csv's vehicles are compared: lower case."""
    return name.lower() if isinstance(name, str) else name


def _table_keys(loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the table holding the key at ``loc`` (a pydantic error location)."""
    model: type[BaseModel] = Config
    parts = [str(part) for part in loc[:-1]]
    i = 0
    while i < len(parts):
        if model is Config and parts[i] == "vehicles":
            if i + 1 == len(parts):
                return []  # [vehicles] itself: any name is a vehicle
            model, i = VehicleConfig, i + 2  # skip the vehicle's name
            continue
        field = model.model_fields.get(parts[i])
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model, i = annotation, i + 1
    return [name for name in model.model_fields if name not in {"base_dir", "source"}]


def _did_you_mean(key: str, valid: list[str]) -> str:
    # the key in other case first: "NAME" is too far from "name" for difflib (0.0)
    same = [name for name in valid if name.casefold() == key.casefold()]
    close = same or difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _explain(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        loc = tuple(err["loc"])
        return "unknown key" + _did_you_mean(str(loc[-1]), _table_keys(loc))
    if kind == "missing":
        return "required key is missing"
    if kind.endswith("_type") or kind in {"model_type", "dict_type"}:
        return "wrong type"
    if kind in {"greater_than", "greater_than_equal", "less_than_equal", "finite_number"}:
        return "value out of range"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _value(err: Any) -> object:
    if err["type"] in {"missing", "extra_forbidden"}:
        return None
    value = err.get("input")
    if isinstance(value, dict):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _valid(err: Any) -> str | None:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "greater_than":
        return f"a number > {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"a number >= {ctx.get('ge')}"
    if kind == "less_than_equal":
        # The upper bounds keep the solver exact (README: what we promise).
        return f"a number <= {ctx.get('le'):,g} (the supported range)"
    if kind == "finite_number":
        return "a finite number"
    if kind in {"float_type", "float_parsing"}:
        return "a number"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return "a whole number, e.g. 30"
    if kind in {"bool_type", "bool_parsing"}:
        return "true or false"
    if kind in {"string_type"}:
        return "a string in quotes"
    if kind == "list_type":
        if tuple(err["loc"]) == ("slack", "approvers"):
            return 'a list of Slack user IDs, e.g. ["U0123ABCD", "U0456EFGH"]'
        return "a list in square brackets"
    if kind == "extra_forbidden":
        keys = _table_keys(tuple(err["loc"]))
        if not keys:
            return "a key of the configuration (`rebalance config show` lists them)"
        table = ".".join(str(p) for p in err["loc"][:-1])
        if not table:
            return "one of the tables " + ", ".join(f"[{k}]" for k in keys)
        return f"one of the keys of [{table}]: {', '.join(keys)}"
    if kind in {"model_type", "dict_type"}:
        return "a table, e.g. [section]"
    return None


# ------------------------------------------------------------- show and init


_MISSING = object()


def key_file(config: Config, key: str) -> str | None:
    """The config file when it sets the dotted ``key``, else None (the default is in
    effect): what an error about that key should name."""
    if config.source is None:
        return None
    given = {k: where for k, _, where in config_sources(config)}
    return str(config.source) if given.get(key) == "file" else None


def _hours_near(hours: float, step: float) -> str:
    """The shift lengths that are multiples of ``step`` hours just below and above
    ``hours`` and allowed (> 0, <= `ranges.MAX_SHIFT_HOURS`): "4 or 4.5", or "" if none."""
    below = math.floor(hours / step) * step
    return " or ".join(f"{h:g}" for h in (below, below + step) if 0 < h <= ranges.MAX_SHIFT_HOURS)


def slot_minutes_error(
    config: Config,
    exc: ValueError,
    *,
    from_hours: bool,
    start: Any = None,
    end: Any = None,
) -> ConfigError:
    """The error for ``[shift] slot_minutes`` not cutting the shift into slots
    (`SlotGrid.build`'s ``exc``), blaming the key the config file sets: ``hours`` when
    the file sets it (and the shift's length came from it, ``from_hours``) but leaves
    ``slot_minutes`` at its default, else ``slot_minutes``. A file is named only when it
    sets the key blamed, and a value only when it is the file's. A shift whose end was
    given (``start``, ``end``: UTC timestamps) is also told the slot boundaries around
    that end, in city time."""
    slots_file = key_file(config, "shift.slot_minutes")
    hours_file = key_file(config, "shift.hours") if from_hours else None
    shift = config.shift
    if hours_file and not slots_file:
        nearby = _hours_near(shift.hours, shift.slot_minutes / 60)
        return ConfigError(
            Issue(
                f"{exc} (slot_minutes is the default)",
                file=hours_file,
                key="shift.hours",
                value=shift.hours,
                valid=f"whole {shift.slot_minutes}-minute slots"
                + (f", e.g. {nearby}" if nearby else "")
                + "; or set [shift] slot_minutes",
            ),
            title="invalid configuration",
        )
    # "... such as 15 (the default; ...)" read as if 15 were the default
    text = str(exc) + (
        ""
        if slots_file
        else f" ([shift] slot_minutes is not set: {shift.slot_minutes} is its default)"
    )
    if not from_hours and start is not None and end is not None:
        import pandas as pd

        step = pd.Timedelta(minutes=shift.slot_minutes)
        before = start + ((end - start) // step) * step
        ends = [t.tz_convert(config.city.timezone) for t in (before, before + step) if t > start]
        from .timeparse import clock_text

        # an end in the hour the clocks repeat says which (02:00+01:00), as typed
        # without one it is the first
        text += "; or end the shift at " + " or ".join(clock_text(t, "%H:%M") for t in ends)
    return ConfigError(
        Issue(
            text,
            file=slots_file,
            key="shift.slot_minutes",
            value=shift.slot_minutes if slots_file else None,
        ),
        title="invalid configuration",
    )


def config_sources(config: Config) -> list[tuple[str, Any, str]]:
    """Every key of the effective configuration: (dotted key, value, where it came from).

    Where is ``file`` when the config file sets the key, else ``default``. Paths that
    are resolved ([data] dir, [history] path) are shown resolved.
    """
    raw: dict[str, Any] = {}
    if config.source is not None:
        try:
            raw = tomllib.loads(Path(config.source).read_text(encoding="utf-8-sig"))
        except (OSError, tomllib.TOMLDecodeError):  # pragma: no cover - it loaded once
            raw = {}
    if isinstance(raw.get("vehicles"), dict):  # [vehicles.BIKE] set the bike's keys
        raw["vehicles"] = {_vehicle_key(k): v for k, v in raw["vehicles"].items()}
    rows: list[tuple[str, Any, str]] = []

    def walk(prefix: tuple[str, ...], value: Any, given: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                inner = given.get(key, _MISSING) if isinstance(given, dict) else _MISSING
                walk((*prefix, str(key)), sub, inner)
            return
        rows.append((".".join(prefix), value, "default" if given is _MISSING else "file"))

    walk((), config.model_dump(mode="json"), raw)
    resolved = {"data.dir": config.data_dir, "history.path": config.history_path}
    out = []
    for key, value, where in rows:
        path = resolved.get(key)
        if path is not None:
            value = str(path)
            if where == "default" and key == "history.path":
                where = "default (user data dir)"
        out.append((key, value, where))
    return out


#: What `rebalance config init` writes: every key, its default, and what it does.
STARTER_TOML = """\
# rebalance configuration. Every key is optional: a commented line shows the default.
# Check what is in effect with: rebalance config show --config THIS_FILE
# Relative paths are relative to this file's folder.

[city]
name = "Paris"                   # shown in the terminal, in Slack and in the history
timezone = "Europe/Paris"        # IANA name; timestamps without an offset are city time

[data]
dir = ""                         # data folder `rebalance run` uses when none is given

[slack]
channel = ""                     # channel ID (C0123ABCD), not its name; a dry run needs none
# approval_channel = ""          # when set, `run` asks for approval there before publishing
# approvers = []                 # Slack user IDs allowed to approve and change the shift

[history]
# path = ""                      # SQLite file of past runs; blank = the platform's data dir

[shift]
# hours = 4.0                    # shift length when --shift-end is not given
# slot_minutes = 30              # slots the shift is planned in; must divide the shift

[demand]
# orders_per_courier_hour = 2.5  # orders one courier delivers in an hour

[eligibility]
# min_available_minutes = 60     # a courier must be available this long after the start

[costs]
# move_fixed_minutes = 5.0       # cost of any move, on top of its travel minutes
# shortage_minutes = 60.0        # cost of one missing courier in a zone (x its priority)
# surplus_minutes = 0.0          # cost of one courier more than a zone needs
# change_minutes = 10.0          # cost of changing a published instruction on a re-plan

[travel]
# detour_factor = 1.3            # road distance / straight-line distance

[solver]
# time_limit_seconds = 120.0     # past this the best plan is kept and called feasible

# One table per vehicle: tune a default one, or add a vehicle with both keys.
# [vehicles.bike]
# speed_kmh = 15.0
# max_move_minutes = 20.0        # longest move asked of a courier on this vehicle
# [vehicles.ebike]
# speed_kmh = 20.0
# max_move_minutes = 25.0
# [vehicles.scooter]
# speed_kmh = 25.0
# max_move_minutes = 30.0
# [vehicles.car]
# speed_kmh = 22.0
# max_move_minutes = 30.0
"""
