"""The Slack app's pieces in-process: command parsing, overrides, approvals in the store."""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeslack import FakeSlack, InProcessSlack, block_problems

from rebalance.app.approval import ACTION_APPROVE, ACTION_HOLD, approval_blocks, request_approval
from rebalance.app.commands import Command, CommandError, parse
from rebalance.app.messages import code, esc
from rebalance.config import load_config
from rebalance.generate import generate_city
from rebalance.history import Approval, History
from rebalance.inputs import Inputs, load
from rebalance.optimize import solve
from rebalance.overrides import apply_overrides, overrides_for_shift, unknown_restaurants
from rebalance.publish import message_problems
from rebalance.runner import run

REPO = Path(__file__).parent.parent


@dataclass(frozen=True)
class _O:
    restaurant_id: str
    status: str


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic city."""
    return generate_city(
        tmp_path_factory.mktemp("town") / "town", zones=4, couriers=30, restaurants=12, seed=5
    )


@pytest.fixture(scope="module")
def inputs(town: Path) -> Inputs:
    """Its validated inputs."""
    return load(town, load_config(town / "rebalance.toml"))


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command("help")),
        ("help", Command("help")),
        ("status", Command("status")),
        ("STATUS Paris", Command("status", "Paris")),
        ("status  New   York ", Command("status", "New York")),
        ("close R0042", Command("close", "R0042")),
        ("  open   0042 ", Command("open", "0042")),
        ("plan", Command("plan")),
        # as Slack sends what was typed: & < > as entities, read back
        ("close R&amp;B-1", Command("close", "R&B-1")),
        ("status Saint-&lt;Denis&gt;", Command("status", "Saint-<Denis>")),
        # an id typed with an entity in it: Slack sends "&amp;lt;", which is "&lt;"
        ("close R&amp;lt;1", Command("close", "R&lt;1")),
    ],
)
def test_commands_parse(text: str, expected: Command) -> None:
    """Valid /rebalance texts parse to their command; ids are kept as typed (Slack's
    entities for & < > read back: "R&B-1" was looked up as "R&amp;B-1")."""
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    ["close", "open a b", "plan now", "why a b", "reboot <!here>", "&lt;!here&gt; now"],
)
def test_bad_commands_list_the_valid_ones_escaped(text: str) -> None:
    """A bad command's message names every valid command and escapes what was typed."""
    with pytest.raises(CommandError) as info:
        parse(text)
    message = str(info.value)
    for valid in ("status [CITY]", "close RESTAURANT_ID", "open RESTAURANT_ID", "/rebalance plan"):
        assert valid in message
    assert "<!here>" not in message


def test_only_changes_need_an_approver() -> None:
    """close, open and plan act on the shift; status and help do not."""
    assert [parse(t).acts for t in ("close R1", "open R1", "plan", "status", "help")] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_mrkdwn_escaping_neutralises_mentions_and_links() -> None:
    """<!channel>, links and & from partners reach Slack as text; a bidi override or a
    control character is written out (as in the channel messages); a typed id with a
    backtick cannot end its code span."""
    assert esc("<!channel> & <https://x|y>") == "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
    assert esc("مطعم \u202eevil\u202d \x1b[31m") == "مطعم \\u202eevil\\u202d \\x1b[31m"
    assert code("x`*bold*` <!here>") == "`xˋ*bold*ˋ &lt;!here&gt;`"


def test_overrides_table_writes_out_controls_in_names() -> None:
    """`rebalance overrides list`: a Slack user name with a bidi override or an escape
    sequence is shown written out, not obeyed by the terminal."""
    from rich.console import Console

    from rebalance.history import OverrideRecord
    from rebalance.overrides import overrides_table

    record = OverrideRecord(
        1, "Paris", "2026-11-30T18:00:00+00:00", "2026-11-30T22:00:00+00:00", "R1",
        "closed", "U0LEAD", "lead \u202eevil\x1b[2J", "2026-11-30T17:00:00+00:00",
    )  # fmt: skip
    console = Console(width=200, record=True, force_terminal=False)
    console.print(overrides_table([record], "Europe/Paris"))
    shown = console.export_text()
    assert "lead \\u202eevil\\x1b[2J (U0LEAD)" in shown
    assert "\u202e" not in shown and "\x1b" not in shown


@pytest.mark.parametrize("width", [40, 60, 80, 120])
def test_overrides_list_never_cuts_an_id_at_any_width(width: int) -> None:
    """`rebalance overrides list --all` at 80 columns showed "by U012AB…" (the table
    squeezed the one column that could wrap), and at 50 dropped the city, restaurant
    and user columns altogether. A table where it fits; else one line per override."""
    from rich.console import Console

    from rebalance.history import OverrideRecord
    from rebalance.overrides import overrides_table

    records = [
        OverrideRecord(
            i, "Paris", "2026-11-30T18:00:00+00:00", "2026-11-30T22:00:00+00:00",
            f"R000{i}2", "closed", "U012AB3CD", "", "2026-11-30T17:00:00+00:00",
            "2026-11-30T17:30:00+00:00" if i == 1 else None,
        )
        for i in (1, 2)
    ]  # fmt: skip
    console = Console(width=width, record=True, force_terminal=False)
    console.print(overrides_table(records, "Europe/Paris"))
    shown = console.export_text()
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= width
    words = shown.split()
    for value in ("U012AB3CD", "R00012", "R00022", "Paris", "18:00:00", "18:30"):
        assert value in " ".join(words), (value, shown)
    header = shown.splitlines()[0].split()[:2] == ["id", "city"]
    assert header == (width >= 120), shown  # a table with its header where it fits


# ----------------------------------------------------------------- overrides


def test_the_run_log_says_which_overrides_applied_and_which_ids_it_ignored(
    town: Path, inputs: Inputs, tmp_path: Path
) -> None:
    """`run` logs one line for the overrides it applied: each restaurant, its status and
    who set it, then the ids the data does not have (a typo in `/rebalance close`);
    control characters typed in Slack are shown as "?", never sent to the terminal."""
    from rebalance.overrides import apply_stored_overrides, shift_window

    config = load_config(town / "rebalance.toml")
    shift = "2026-11-30T19:00:00+01:00"
    start, end = shift_window(config, shift)
    known = str(inputs.restaurants["restaurant_id"].iloc[0])
    lines: list[str] = []
    with History(tmp_path / "h.sqlite3") as store:
        for rid, name in ((known, "lead\x1b[2J"), ("GH\x07OST", "")):
            store.add_override(
                city=config.city.name, shift_start=start, shift_end=end, restaurant_id=rid,
                status="closed", user_id="U0LEAD", user_name=name,
            )  # fmt: skip
        apply_stored_overrides(inputs, config, shift, history=store, log=lines.append)
    assert lines == [
        f"2 restaurant overrides from Slack applied: {known} closed (by lead?[2J), "
        "GH?OST closed (by U0LEAD); not in the data, ignored: GH?OST"
    ]


def test_apply_overrides_is_pure_and_the_latest_wins(inputs: Inputs) -> None:
    """Overrides set statuses in a new Inputs; the original is untouched; later wins."""
    first, second = inputs.restaurants["restaurant_id"].iloc[:2]
    status_before = inputs.restaurants.set_index("restaurant_id")["status"].copy()
    changed = apply_overrides(
        inputs, [_O(first, "closed"), _O(second, "closed"), _O(second, "open")]
    )
    after = changed.restaurants.set_index("restaurant_id")["status"]
    assert after[first] == "closed" and after[second] == "open"
    assert inputs.restaurants.set_index("restaurant_id")["status"].equals(status_before)
    assert changed.sha256 != inputs.sha256
    assert apply_overrides(inputs, []) is inputs
    same = status_before[first]
    assert apply_overrides(inputs, [_O(first, same)]) is inputs  # nothing changes


def test_unknown_override_ids_are_skipped_and_reported(inputs: Inputs) -> None:
    """An override of a restaurant no longer in the data changes nothing and is named."""
    overrides = [_O("GONE-1", "closed")]
    assert apply_overrides(inputs, overrides) is inputs
    assert unknown_restaurants(inputs, overrides) == ["GONE-1"]
    with pytest.raises(ValueError, match="open or closed"):
        apply_overrides(inputs, [_O("x", "paused")])


def test_overrides_apply_within_their_shift_only(tmp_path: Path) -> None:
    """An override of [19:00, 23:00) applies to re-plans at 19:00-22:59, not before or after."""
    with History(tmp_path / "h.sqlite3") as h:
        h.add_override(
            city="Paris",
            shift_start="2026-11-30T18:00:00+00:00",
            shift_end="2026-11-30T22:00:00+00:00",
            restaurant_id="R1",
            status="closed",
            user_id="U1",
        )
        at = [
            "2026-11-30T18:59+01:00",
            "2026-11-30T19:00+01:00",
            "2026-11-30T22:45+01:00",
            "2026-11-30T23:00+01:00",
        ]
        assert [len(overrides_for_shift(h, "Paris", t)) for t in at] == [0, 1, 1, 0]
        assert overrides_for_shift(h, "Lyon", at[1]) == []
        assert h.clear_overrides(city="Paris", restaurant_id="R1", by="me") == 1
        assert overrides_for_shift(h, "Paris", at[1]) == []


# ------------------------------------------------------------------ the store


def _approval(**changes: object) -> Approval:
    base = {
        "plan_key": "paris@2026-11-30T19:00+01:00",
        "content_hash": "h1",
        "city": "Paris",
        "shift_start": "2026-11-30T19:00:00+01:00",
        "run_id": "r1",
        "plan_id": "p1",
        "plan_dir": "/tmp/p1",
        "channel": "C0APPROVE",
        "target_channel": "C0PLANS",
        "ts": "1.1",
        "status": "pending",
        "requested_at": "2026-11-30T17:00:00+00:00",
    }
    return Approval(**{**base, **changes})  # type: ignore[arg-type]


def test_approval_decisions_are_compare_and_set_across_connections(tmp_path: Path) -> None:
    """Of many connections claiming one pending approval at once, exactly one wins."""
    path = tmp_path / "h.sqlite3"
    with History(path) as h:
        h.save_approval(_approval())
    wins: list[str] = []

    def claim(user: str) -> None:
        with History(path) as h:
            got = h.transition_approval(
                "paris@2026-11-30T19:00+01:00",
                "h1",
                from_states=("pending",),
                status="approving",
                decided_by=user,
            )
            if got is not None:
                wins.append(user)

    threads = [threading.Thread(target=claim, args=(f"U{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    with History(path) as h:
        row = h.approval("paris@2026-11-30T19:00+01:00", "h1")
        assert row is not None and row.decided_by == wins[0] and row.status == "approving"
        stale = h.transition_approval(
            row.plan_key,
            "h1",
            from_states=("approving",),
            expect={"decided_by": "someone-else"},
            status="pending",
        )
        assert stale is None


def test_a_delivery_is_handled_once(tmp_path: Path) -> None:
    """The same delivery key is first once; other keys are independent."""
    with History(tmp_path / "h.sqlite3") as h:
        assert h.first_delivery("action:1.2:U1:a", "action")
        assert not h.first_delivery("action:1.2:U1:a", "action")
        assert h.first_delivery("action:1.3:U1:a", "action")


def test_dry_run_with_an_approval_channel_shows_the_request(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run --dry-run with [slack] approval_channel: the request payload, with both buttons."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE"},
        history={"path": str(tmp_path / "h.sqlite3")},
    )
    result = run(config, town, shift_start="2026-11-30T19:00", dry_run=True)
    assert result.publish.action == "dry-run"
    (payload,) = result.publish.payloads
    assert payload["channel"] == "C0APPROVE"
    (actions,) = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [ACTION_APPROVE, ACTION_HOLD]


def test_the_approval_message_of_a_slot_plan_says_what_now_and_what_is_coming(
    town: Path, inputs: Inputs
) -> None:
    """A plan in slots goes up with its moves at the shift start, the slots to come,
    what its thread will hold, and both buttons, within Slack's limits."""
    plan = solve(inputs, load_config(town / "rebalance.toml"), "2026-11-30T19:00")
    assert plan.slot_count > 1
    text, blocks = approval_blocks(plan, _approval(plan_id=plan.plan_id), timezone=plan.timezone)
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    start = plan.local(plan.shift_start)
    assert any(s.startswith(f"*Move now, {start:%H:%M}*") for s in sections)
    second = plan.local(plan.slot_starts()[1])
    later = plan.slot_count - 1  # the slots after the first, one line each
    (coming,) = [s for s in sections if s.startswith(f"*Coming up* ({later} slot")]
    assert f"• *{second:%H:%M}*:" in coming
    assert len([line for line in coming.splitlines() if line.startswith("• ")]) == later
    footer = blocks[-2]["elements"][0]["text"]
    assert "Approve publishes it to <#C0PLANS>" in footer and "slots.csv" in footer
    assert [e["action_id"] for e in blocks[-1]["elements"]] == [ACTION_APPROVE, ACTION_HOLD]
    assert message_problems({"text": text, "blocks": blocks}) == []
    assert block_problems(blocks) == []


def test_run_puts_its_plan_up_for_approval_through_its_client_once(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run with an approval channel posts the plan it holds through the client it is given,
    once per version; a revision supersedes the older request with a link to it."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)  # only the given client may post
    fake = FakeSlack()
    fake.add_channel("C0APPROVE", "ops-approve", member=True)
    client = InProcessSlack(fake)
    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE"},
        history={"path": str(tmp_path / "h.sqlite3")},
    )
    first = run(config, town, shift_start="2026-11-30T19:00", client=client)
    again = run(config, town, shift_start="2026-11-30T19:00", client=client)
    assert [first.publish.action, again.publish.action] == [
        "approval-requested",
        "approval-pending",
    ]
    assert fake.messages("C0PLANS") == []
    (request,) = fake.messages("C0APPROVE")
    assert request["metadata"]["event_payload"]["plan_id"] == first.plan.plan_id
    with History(config.history_path) as h:
        stored = h.approval(first.publish.plan_key, first.publish.content_hash)
    assert stored is not None and stored.status == "pending"
    assert (stored.run_id, stored.plan_dir) == (first.run_id, str(first.plan_dir))

    busier = config.with_changes(demand={"orders_per_courier_hour": 2.0})
    revised = run(busier, town, shift_start="2026-11-30T19:00", client=client)
    assert revised.publish.action == "approval-requested"
    older, newer = fake.messages("C0APPROVE")
    assert newer["ts"] == revised.publish.ts
    assert "Superseded by <https://" in str(older["blocks"])
    assert not [b for b in older["blocks"] if b["type"] == "actions"]


def _requests(town: Path, tmp_path: Path, inputs: Inputs) -> tuple[Any, ...]:
    """A fake Slack with an approval channel, a client to it, a history store and a
    `request_approval` of a plan version by name (v1, v2: two demand settings)."""
    fake = FakeSlack()
    fake.add_channel("C0APPROVE", "ops-approve", member=True)
    client = InProcessSlack(fake)
    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE"}
    )
    plans = {}
    for name, per_hour in (("v1", 2.5), ("v2", 2.0)):
        plan = solve(
            inputs,
            config.with_changes(demand={"orders_per_courier_hour": per_hour}),
            "2026-11-30T19:00",
        )
        plan.write(tmp_path / name)
        plans[name] = plan
    history = History(tmp_path / "h.sqlite3")

    def request(name: str) -> Any:
        return request_approval(
            plans[name], plan_dir=tmp_path / name, config=config, history=history, client=client
        )

    return fake, history, request


def test_a_superseded_version_wanted_again_gets_a_new_request(
    town: Path, tmp_path: Path, inputs: Inputs
) -> None:
    """v1 up for approval, v2 supersedes it, then the plan is v1 again: a new request with
    buttons (v1's first message was edited to "Superseded" and has none; it is not
    adopted), which asking again does not repeat."""
    fake, history, request = _requests(town, tmp_path, inputs)
    first = request("v1")
    request("v2")
    back = request("v1")
    assert back.action == "approval-requested" and back.ts != first.ts
    old, _, new = fake.messages("C0APPROVE")
    assert old["ts"] == first.ts and new["ts"] == back.ts
    assert [b for b in new["blocks"] if b["type"] == "actions"]
    assert not [b for b in old["blocks"] if b["type"] == "actions"]
    assert request("v1").action == "approval-pending"
    assert len(fake.messages("C0APPROVE")) == 3
    history.close()


def test_a_request_posted_but_not_recorded_is_adopted_not_an_older_one(
    town: Path, tmp_path: Path, inputs: Inputs, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1 asked for again after v2 superseded it, and that new request posted but not
    recorded (the process died): the next try adopts that request, not v1's first,
    button-less message, and posts nothing more."""
    fake, history, request = _requests(town, tmp_path, inputs)
    first = request("v1")
    request("v2")

    def dies(self: History, approval: Approval) -> Approval:
        raise KeyboardInterrupt("killed between posting and recording")

    saved = History.save_approval
    monkeypatch.setattr(History, "save_approval", dies)
    with pytest.raises(KeyboardInterrupt):
        request("v1")
    monkeypatch.setattr(History, "save_approval", saved)
    assert len(fake.messages("C0APPROVE")) == 3
    again = request("v1")
    requests = fake.messages("C0APPROVE")
    assert len(requests) == 3
    assert again.action == "approval-requested"
    assert again.ts == requests[-1]["ts"] != first.ts
    assert [b for b in requests[-1]["blocks"] if b["type"] == "actions"]
    history.close()


def test_a_request_whose_post_timed_out_but_was_stored_is_adopted(
    town: Path, tmp_path: Path, inputs: Inputs
) -> None:
    """Slack stores the request and answers after the client gave up: the request is
    looked for and adopted, once (it was exit 5 with the request standing in the
    channel, and a retry while Slack was still storing it put up a second one)."""
    from fakeslack import TOKEN

    from rebalance.slack import SlackClient

    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE"}
    )
    plan = solve(inputs, config, "2026-11-30T19:00")
    plan.write(tmp_path / "v1")
    with FakeSlack() as fake, History(tmp_path / "h.sqlite3") as history:
        fake.add_channel("C0APPROVE", "ops-approve", member=True)
        fake.fail("chat.postMessage", "slow", delay=1.0)  # stored at once, answered late
        client = SlackClient(TOKEN, base_url=fake.url, timeout=0.3)
        result = request_approval(
            plan, plan_dir=tmp_path / "v1", config=config, history=history, client=client
        )
        (request,) = fake.messages("C0APPROVE")
        assert result.action == "approval-requested" and result.ts == request["ts"]
        stored = history.approval(result.plan_key, result.content_hash)
        assert stored is not None and stored.ts == request["ts"] and stored.status == "pending"


def test_a_superseded_request_someone_deleted_is_no_failure(
    town: Path, tmp_path: Path, inputs: Inputs
) -> None:
    """v1's request deleted by hand, then v2 comes: v2 is up and recorded, and marking
    v1 superseded (message_not_found) does not fail the run (it exited 5, "posting the
    plan for approval failed", and cron mailed a failure that did not happen)."""
    from fakeslack import TOKEN

    fake, history, request = _requests(town, tmp_path, inputs)
    first = request("v1")
    fake.dispatch("chat.delete", {"channel": "C0APPROVE", "ts": first.ts}, f"Bearer {TOKEN}")
    second = request("v2")
    assert second.action == "approval-requested"
    assert [m["ts"] for m in fake.messages("C0APPROVE")] == [second.ts]
    assert history.approval(first.plan_key, first.content_hash).status == "superseded"
    history.close()


def test_a_public_approval_channel_the_bot_is_not_in_is_joined(
    town: Path, tmp_path: Path, inputs: Inputs
) -> None:
    """The approval channel is public and the bot not in it: the bot joins it and puts the
    request up, as the publisher does for the plans' channel (it failed the run with exit
    5, "conversations.history: Slack answered not_in_channel")."""
    fake = FakeSlack()
    fake.add_channel("C0APPROVE", "ops-approve", member=False)
    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE"}
    )
    plan = solve(inputs, config, "2026-11-30T19:00")
    plan.write(tmp_path / "v1")
    with History(tmp_path / "h.sqlite3") as history:
        result = request_approval(
            plan,
            plan_dir=tmp_path / "v1",
            config=config,
            history=history,
            client=InProcessSlack(fake),
        )
    assert result.action == "approval-requested"
    assert "conversations.join" in fake.methods()
    assert [m["ts"] for m in fake.messages("C0APPROVE")] == [result.ts]


def test_bolt_and_waitress_live_in_their_modules() -> None:
    """slack_bolt is imported only by rebalance/app/bolt.py, waitress only by app/server.py."""
    owners = {"slack_bolt": "app/bolt.py", "waitress": "app/server.py"}
    for file in sorted((REPO / "rebalance").rglob("*.py")):
        where = file.relative_to(REPO / "rebalance").as_posix()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in owners:
                    assert where == owners[top], f"{where} imports {name}"


def _recorded_plan(town: Path, tmp_path: Path) -> tuple[Any, Any]:
    """The town's config (history under tmp_path) and its 19:00 plan, written to
    ``tmp_path/plan`` and recorded as a run."""
    from rebalance.history import History as Store

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    plan = solve(load(town, config), config, "2026-11-30T19:00")
    folder = plan.write(tmp_path / "plan")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    return config, plan


def test_why_explains_a_zone_of_the_latest_plan(town: Path, tmp_path: Path) -> None:
    """/rebalance why ZONE answers from the shift's latest plan (CONTRACT 11), escaped;
    an unknown zone gets the valid ones; no plan yet says so."""
    from rebalance.app.desk import Desk

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    desk = Desk(config)
    assert "No plan yet" in desk.why("Z001")
    from rebalance.history import History as Store

    plan = solve(load(town, config), config, "2026-11-30T19:00")
    folder = plan.write(tmp_path / "plan")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    short = plan.zones[plan.zones["shortage"] > 0]
    zone = str((short if len(short) else plan.zones).iloc[0]["zone_id"])
    answer = desk.why(zone)
    assert answer.startswith(f"*Why {zone}") and plan.plan_id in answer
    assert ("short by" in answer) == bool(len(short))
    assert "one more courier here" in answer
    unknown = desk.why("<!channel>")
    assert "unknown zone" in unknown and "<!channel>" not in unknown
    assert parse("why Z1") == Command("why", "Z1") and not parse("why Z1").acts


def test_why_and_status_say_one_courier_and_opened_by(town: Path, tmp_path: Path) -> None:
    """`why` said "1 courier(s)" and the status list "`R00027` open by <@U0LEAD>" (read
    as an order). Now a route of one courier says "1 courier", and an override reads
    "opened by" or "closed by"."""
    from rebalance.app.desk import Desk, User
    from rebalance.history import History as Store
    from rebalance.overrides import shift_window

    config, plan = _recorded_plan(town, tmp_path)
    ones = [
        (str(z), row)
        for z in plan.zones["zone_id"]
        for row in plan.explain(str(z)).routes.head(5).itertuples(index=False)
        if int(row.couriers) == 1
    ]
    assert ones, "the town's plan has a route of one courier"
    zone, row = ones[0]
    desk = Desk(config)
    answer = desk.why(zone)
    assert f"• {row.from_zone} → {row.to_zone}: 1 courier, saves" in answer
    assert "courier(s)" not in answer
    ids = sorted(load(town, config).restaurants["restaurant_id"])[:2]
    user = User("U0LEAD", "lead")
    with Store(config.history_path) as h:
        shift, _ = desk.current_shift(h)
        start, end = shift_window(config, shift)
        for rid, status in ((ids[0], "closed"), (ids[1], "open")):
            h.add_override(
                city=config.city.name,
                shift_start=start,
                shift_end=end,
                restaurant_id=rid,
                status=status,
                user_id=user.id,
            )
    status = desk.status(None)
    assert f"`{ids[0]}` closed by <@U0LEAD>" in status
    assert f"`{ids[1]}` opened by <@U0LEAD>" in status


def test_commands_act_on_the_latest_shift_not_the_run_started_last(
    town: Path, tmp_path: Path
) -> None:
    """19:00 and 19:30 planned, then 19:00 run again (the retry command an exit 5 prints
    carries its --shift-start): the app took the retry, the run started last, for the
    shift in force, so `/rebalance status` showed 19:00 and `why` answered from its plan
    while couriers had the 19:30 one. Commands act on the latest planned shift."""
    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    plans = {}
    for when in ("2026-11-30T19:00", "2026-11-30T19:30", "2026-11-30T19:00"):
        plan = solve(load(town, config), config, when)
        folder = plan.write(tmp_path / f"plan-{len(plans)}")
        with Store(config.history_path) as h:
            h.start_run(
                config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
            )
        plans[len(plans)] = plan
    desk = Desk(config)
    with Store(config.history_path) as h:
        shift, _ = desk.current_shift(h)
    assert shift == plans[1].shift_start
    assert "shift Mon 30 Nov 19:30–23:30" in desk.status(None)
    zone = str(plans[1].zones.iloc[0]["zone_id"])
    assert plans[1].plan_id in desk.why(zone)


def test_a_run_of_a_shift_next_week_does_not_take_the_commands_from_tonight(
    town: Path, tmp_path: Path
) -> None:
    """One run of a shift a week ahead (planned early, or a typo'd date) made every
    command act on that shift until 50 newer runs pushed it out: about 12 hours of
    cron. Of the shifts started by now the latest is current; a shift yet to start only
    when none has started."""
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    tz = config.city.timezone
    ahead = pd.Timestamp(datetime.now(UTC) + timedelta(days=7)).tz_convert(tz).floor("h")
    desk = Desk(config)

    def record(start: pd.Timestamp) -> None:
        with Store(config.history_path) as h:
            h.start_run(config.city.name, start.isoformat(), plan_dir=str(tmp_path), status="ok")

    record(ahead)
    with Store(config.history_path) as h:
        assert desk.current_shift(h)[0] == ahead  # nothing started yet: the next one
    tonight = pd.Timestamp(datetime.now(UTC) - timedelta(hours=1)).tz_convert(tz).floor("h")
    for start in (tonight - timedelta(minutes=30), tonight, ahead, tonight - timedelta(hours=1)):
        record(start)
    with Store(config.history_path) as h:
        assert desk.current_shift(h)[0] == tonight


def test_why_with_zone_names_of_10000_characters_is_a_reply_slack_takes(
    town: Path, tmp_path: Path
) -> None:
    """Zone names went into /rebalance why uncut (its label and every sentence naming a
    neighbour): 70,456 characters for one zone, past Slack's 40,000, and the last line
    (what one more courier is worth) was lost. Names are cut; the ids stay whole."""
    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    inputs = load(town, config)
    zones = inputs.zones.copy()
    zones["name"] = [f"{z} " + "Grand *Boulevard* & Co " * 500 for z in zones["zone_id"]]
    plan = solve(inputs.replace(zones=zones), config, "2026-11-30T19:00")
    folder = plan.write(tmp_path / "plan")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    for zone in plan.zones["zone_id"].astype(str):
        answer = Desk(config).why(zone)
        assert answer.startswith(f"*Why {zone} ") and len(answer) < 3000, len(answer)
        assert "one more courier here" in answer
        assert "∗Boulevard∗" in answer and "*Boulevard*" not in answer  # no bold of theirs
    for why in plan.explain().short["why"]:
        assert len(why) < 1000


def test_why_shows_zone_ids_and_what_was_typed_without_their_formatting(
    town: Path, tmp_path: Path
) -> None:
    """`why` escaped only <, > and &: a zone id ``*b* ~x~ `c``` came out bold, struck
    through and as code in its header and route lines, and ``why *zz*_u_`` echoed what
    was typed as bold and italic in "unknown zone". Ids are now shown whole with their
    formatting characters as look-alikes, as the channel's messages show them."""
    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    inputs = load(town, config)
    hostile = {z: f"*{z}* ~x~ `c`" for z in inputs.zones["zone_id"].astype(str)}

    def renamed(frame: Any) -> Any:
        out = frame.copy()
        out["zone_id"] = out["zone_id"].astype(str).map(hostile)
        return out

    travel = inputs.travel_times
    if travel is not None:
        travel = travel.assign(
            from_zone=travel["from_zone"].astype(str).map(hostile),
            to_zone=travel["to_zone"].astype(str).map(hostile),
        )
    changed = inputs.replace(
        zones=renamed(inputs.zones),
        restaurants=renamed(inputs.restaurants),
        couriers=renamed(inputs.couriers),
        travel_times=travel,
    )
    plan = solve(changed, config, "2026-11-30T19:00")
    assert len(plan.moves)
    folder = plan.write(tmp_path / "plan")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    desk = Desk(config)
    zone = str(plan.moves["to_zone"].iloc[0])
    answer = desk.why(zone)
    assert " → " in answer and "∗" in answer and "∼x∼" in answer and "ˋcˋ" in answer
    for mark in ("*Z", "* ~", "~x~", "`c`"):
        assert mark not in answer, (mark, answer)
    unknown = desk.why("*zz*_u_")
    assert "unknown zone" in unknown and "'∗zz" in unknown and "ˍuˍ'" in unknown
    assert "*zz*" not in unknown and "_u_" not in unknown and "~x~" not in unknown


def test_close_looks_up_the_restaurants_as_they_are_now(town: Path, tmp_path: Path) -> None:
    """The id check answering /rebalance close before the ack names an unknown id, and
    sees a restaurant added to restaurants.csv since the last check."""
    import shutil

    import pandas as pd

    from rebalance.app.desk import Desk

    city = Path(shutil.copytree(town, tmp_path / "town"))
    config = load_config(city / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    desk = Desk(config)
    frame = pd.read_csv(city / "restaurants.csv", dtype=str)
    known = str(frame["restaurant_id"].iloc[0])
    assert desk.unknown_restaurant(known, "close") is None
    answer = desk.unknown_restaurant("R-NEW", "close")
    assert answer is not None and "Unknown restaurant id `R-NEW`" in answer
    assert "`/rebalance close RESTAURANT_ID`" in answer and "Nothing was changed" in answer
    added = pd.concat([frame, frame.iloc[[0]].assign(restaurant_id="R-NEW")], ignore_index=True)
    added.to_csv(city / "restaurants.csv", index=False)
    assert desk.unknown_restaurant("R-NEW", "open") is None


def test_a_close_and_an_open_a_moment_apart_end_open(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/rebalance close then /rebalance open of one restaurant while the close is still
    reading the overrides: the open waits for it, then opens (both read "open" before,
    so the open answered "already open" and the restaurant stayed closed)."""
    import time

    from rebalance import overrides
    from rebalance.app.desk import Desk, User

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    desk = Desk(config)
    monkeypatch.setattr(desk, "replan", lambda user, why="": "re-planned")
    rid = str(load(town, config).restaurants["restaurant_id"].iloc[0])
    real, inside = overrides.apply_overrides, threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        if not inside.is_set():  # the close: hold the read open a while
            inside.set()
            time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(overrides, "apply_overrides", slow)
    answers: dict[str, str] = {}
    close = threading.Thread(
        target=lambda: answers.update(close=desk.change(rid, "closed", User("U0LEAD", "lead")))
    )
    close.start()
    assert inside.wait(10)
    answers["open"] = desk.change(rid, "open", User("U0LEAD2", "lead 2"))
    close.join(10)
    assert "is now *closed*" in answers["close"] and "is now *open*" in answers["open"]
    with History(config.history_path) as h:
        (shift, _) = desk.current_shift(h)
        final = real(load(town, config), overrides.overrides_for_shift(h, config.city.name, shift))
    status = final.restaurants.set_index("restaurant_id")["status"]
    assert status[rid] == "open"


def test_status_before_any_run_gives_the_shift_in_city_time(town: Path, tmp_path: Path) -> None:
    """Before any run is recorded, /rebalance status shows the shift starting at the
    current quarter hour in the city's time (CET/CEST in Paris), not in UTC."""
    from datetime import UTC, datetime

    import pandas as pd

    from rebalance.app.desk import Desk

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    before = pd.Timestamp(datetime.now(UTC)).tz_convert(config.city.timezone)
    answer = Desk(config).status(None)
    assert "No plan yet" in answer
    assert "UTC" not in answer
    assert before.tzname() in answer  # CET or CEST
    quarter = before.floor("15min")
    assert f"{quarter:%H:%M}" in answer or f"{quarter + pd.Timedelta(minutes=15):%H:%M}" in answer


def test_status_of_another_city_quotes_this_ones_name_whole(town: Path, tmp_path: Path) -> None:
    """The "Unknown city" reply put this city's name in a code span by hand: a backtick
    in the name ended the span and the rest read as formatting. It is quoted as every
    name in a code span is (a backtick shown as a look-alike)."""
    from rebalance.app.desk import Desk

    config = load_config(town / "rebalance.toml").with_changes(
        city={"name": "Ville `x` *b*"}, history={"path": str(tmp_path / "h.sqlite3")}
    )
    answer = Desk(config).status("Lyon")
    assert answer.startswith("Unknown city `Lyon`")
    hint = answer[answer.index("(") + 1 : answer.rindex(")")]
    assert hint == "`/rebalance status Ville \u02cbx\u02cb *b*`"


def test_status_of_a_city_whose_name_has_a_space_works_as_suggested(
    town: Path, tmp_path: Path
) -> None:
    """`/rebalance status New York` was refused ("`status` takes at most one city, not
    `New York`") while the unknown-city reply suggested exactly that command. The rest
    of the text is the city's name: the suggestion, typed back, shows the shift."""
    from rebalance.app.desk import Desk

    config = load_config(town / "rebalance.toml").with_changes(
        city={"name": "New York"}, history={"path": str(tmp_path / "h.sqlite3")}
    )
    desk = Desk(config)
    hint = desk.status("Lyon")
    suggested = hint[hint.index("(`/rebalance ") + len("(`/rebalance ") : hint.rindex("`)")]
    assert suggested == "status New York"
    for typed in (suggested, "status new york", "status  New  York"):
        command = parse(typed)
        answer = desk.status(command.arg)
        assert answer.startswith("*New York* · shift "), answer
        assert "Unknown city" not in answer


def test_an_id_typed_in_another_case_is_suggested_alone(town: Path, tmp_path: Path) -> None:
    """`close r00001` suggested "R00001, R00020, R00019, R00018, R00017": the id meant,
    then four unrelated ones. An id differing only in case is suggested alone; others
    are matched case-blind."""
    from rebalance.app.desk import Desk

    config = load_config(town / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    ids = ["R00001", "R00020", "R00019", "R00018", "R00017", "B99"]
    text = Desk(config)._unknown_restaurant("r00001", ids, "close")
    assert "Did you mean `R00001`?" in text
    text = Desk(config)._unknown_restaurant("r0002", ids, "close")
    assert "`R00020`" in text.split("Did you mean", 1)[1]


def test_why_never_says_a_route_saves_minus_zero(
    town: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route that saves -0.4 minutes read "saves -0 min" in `/rebalance why` (and in
    `rebalance explain`'s table): whole minutes are now rounded as whole numbers."""
    import dataclasses

    from rebalance.app.desk import Desk
    from rebalance.plan import Plan

    config, plan = _recorded_plan(town, tmp_path)
    explain = Plan.explain

    def nearly_nothing(self: Plan, *args: object, **kwargs: object) -> object:
        expl = explain(self, *args, **kwargs)
        return dataclasses.replace(expl, routes=expl.routes.assign(saves_minutes=-0.4))

    monkeypatch.setattr(Plan, "explain", nearly_nothing)
    zone = str(plan.moves["to_zone"].iloc[0])
    answer = Desk(config).why(zone)
    assert "saves 0 min" in answer and "-0" not in answer
    # and in the sentences of the explanation the answer quotes
    from rebalance.explain import _fmt

    assert [_fmt(-0.04), _fmt(-0.4), _fmt(2.96), _fmt(-1.5)] == ["0", "-0.4", "3", "-1.5"]


def test_why_says_what_a_marginal_value_is_and_when_there_is_none(
    town: Path, tmp_path: Path
) -> None:
    """`/rebalance why` said "would not fit (caps)" for every zone of a plan stopped by
    its time limit (whose marginal values are never computed), and "worth 60.0 min" for
    a plan in slots, where the value is an upper bound. It now says "not computed" and
    "worth at most"."""
    import dataclasses

    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    config, plan = _recorded_plan(town, tmp_path)
    assert plan.slot_count > 1
    zone = str(plan.zones["zone_id"].iloc[0])
    answer = Desk(config).why(zone)
    assert "one more courier here for the whole shift: worth at most " in answer, answer
    stopped = dataclasses.replace(
        plan,
        status="feasible",
        best_bound=plan.objective,
        zones=plan.zones.assign(marginal_minutes=float("nan")),
    )
    folder = stopped.write(tmp_path / "stopped")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    answer = Desk(config).why(zone)
    assert "(feasible)" in answer and "would not fit" not in answer
    assert "one more courier here for the whole shift: not computed (the plan is not " in answer
    # an optimal plan whose zones.csv has no marginal values (written without them) is
    # not "would not fit (caps)" either
    import pandas as pd

    folder = plan.write(tmp_path / "bare")
    zones_csv = pd.read_csv(folder / "zones.csv", dtype=str, keep_default_na=False)
    zones_csv.drop(columns="marginal_minutes").to_csv(folder / "zones.csv", index=False)
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    answer = Desk(config).why(zone)
    assert "would not fit" not in answer, answer
    assert "whole shift: not computed (the plan is written without them)" in answer


def test_why_says_a_fractional_lps_value_is_not_a_bound(tmp_path: Path) -> None:
    """In a plan in slots whose LP was fractional, a marginal value is the relaxation's,
    not a bound (as `rebalance explain` says): `/rebalance why` said "worth at most"."""
    from rebalance.app.desk import Desk
    from rebalance.history import History as Store

    city = Path(__file__).parent / "data" / "slots" / "FractionalLP"
    config = load_config(city / "rebalance.toml").with_changes(
        history={"path": str(tmp_path / "h.sqlite3")}
    )
    plan = solve(load(city, config), config, "2026-11-30T18:00:00Z")
    assert plan.status == "optimal" and plan.solver.get("lp_integral") == 0
    folder = plan.write(tmp_path / "plan")
    with Store(config.history_path) as h:
        h.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        )
    zone = str(plan.zones["zone_id"].iloc[0])
    answer = Desk(config).why(zone)
    assert "at most" not in answer, answer
    assert "min in the LP relaxation (not a bound)" in answer, answer
    sentences = " ".join(plan.explain().short["why"])
    assert "at most" not in sentences


def _approving_desk(town: Path, tmp_path: Path) -> tuple[Any, Any, Any, Any, History, Any]:
    """A desk with an approval channel over the fake Slack, and the town's 19:00 plan
    written to ``tmp_path/run1``."""
    from rebalance.app.desk import Desk

    fake = FakeSlack()
    fake.add_channel("C0APPROVE", "ops-approve", member=True)
    fake.add_channel("C0PLANS", "ops", member=True)
    client = InProcessSlack(fake)
    config = load_config(town / "rebalance.toml").with_changes(
        slack={"channel": "C0PLANS", "approval_channel": "C0APPROVE", "approvers": ["U0LEAD"]},
        history={"path": str(tmp_path / "h.sqlite3")},
    )
    plan = solve(load(town, config), config, "2026-11-30T19:00")
    plan.write(tmp_path / "run1")
    desk = Desk(config)
    desk.client = lambda: client  # type: ignore[method-assign]
    return fake, client, config, plan, History(config.history_path), desk


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def test_a_damaged_plan_folder_keeps_its_request_approvable(town: Path, tmp_path: Path) -> None:
    """An Approve on a request whose folder lost a file (plan.json still there) took its
    buttons away as if the plan were gone, and the same plan asked again by the next run
    was "still awaiting approval" on that message: nobody could approve it. Only a folder
    without its plan.json is gone; a damaged one fails as publishing does, buttons kept."""
    from rebalance.app.approval import button_value
    from rebalance.app.desk import User

    fake, client, config, plan, history, desk = _approving_desk(town, tmp_path)
    first = request_approval(
        plan, plan_dir=tmp_path / "run1", config=config, history=history, client=client
    )
    (tmp_path / "run1" / "moves.csv").unlink()
    answer = desk.decide(
        "approve", button_value(first.plan_key, first.content_hash), User("U0LEAD")
    )
    assert "files on the app's server are gone" not in answer
    plan.write(tmp_path / "run2")
    request_approval(
        plan, plan_dir=tmp_path / "run2", config=config, history=history, client=client
    )
    assert _buttons(fake.messages("C0APPROVE")[-1]) == [ACTION_APPROVE, ACTION_HOLD]


def test_a_late_click_on_an_approved_plan_whose_folder_is_gone_says_already_approved(
    town: Path, tmp_path: Path
) -> None:
    """A second approver's click on a plan approved and published, its run folder since
    removed, answered "Nothing was published" and wrote "cannot be published ... Not
    published" over its "Approved by": the plan was in the channel. It is already
    approved, and says so."""
    import shutil

    from rebalance.app.approval import button_value
    from rebalance.app.desk import User

    fake, client, config, plan, history, desk = _approving_desk(town, tmp_path)
    first = request_approval(
        plan, plan_dir=tmp_path / "run1", config=config, history=history, client=client
    )
    value = button_value(first.plan_key, first.content_hash)
    assert "Approved and published" in desk.decide("approve", value, User("U0LEAD"))
    shutil.rmtree(tmp_path / "run1")
    assert "Already approved" in desk.decide("approve", value, User("U0LEAD2"))
    assert "cannot be published" not in fake.messages("C0APPROVE")[0].get("text", "")


def test_history_of_a_run_whose_version_was_asked_again_says_so(town: Path, tmp_path: Path) -> None:
    """Version 1 asked for and approved, version 2 too, then version 1 asked again by a
    third run: the first run, approved and published, read "awaiting approval" in
    `history` (the request of the third run replaces its record). It now reads "asked
    again", naming the run whose request it is; JSON carries that run's id."""
    from rebalance.app.approval import button_value
    from rebalance.app.desk import User
    from rebalance.cli import _approvals
    from rebalance.views.history import approval_text, run_dict

    _, client, config, _, history, desk = _approving_desk(town, tmp_path)
    runs = []
    for i, rate in enumerate((2.5, 2.0, 2.5)):
        changed = config.with_changes(demand={"orders_per_courier_hour": rate})
        plan = solve(load(town, config), changed, "2026-11-30T19:00")
        folder = plan.write(tmp_path / f"r{i}")
        run_id = history.start_run(
            config.city.name, plan.shift_start.isoformat(), plan_dir=str(folder), status="ok"
        ).run_id
        asked = request_approval(
            plan, plan_dir=folder, config=config, history=history, client=client, run_id=run_id
        )
        extra = {"plan_key": asked.plan_key, "content_hash": asked.content_hash}
        history.update_run(run_id, extra={**extra, "approval_channel": "C0APPROVE"})
        runs.append(run_id)
        if i < 2:
            value = button_value(asked.plan_key, asked.content_hash)
            assert "Approved and published" in desk.decide("approve", value, User("U0LEAD"))
    found = _approvals(history, [history.run(r) for r in runs])
    assert approval_text(found[runs[0]], runs[0]).startswith(
        f"asked again by run {runs[2]}, now awaiting approval"
    )
    assert approval_text(found[runs[2]], runs[2]).startswith("awaiting approval")
    assert run_dict(history.run(runs[0]), found[runs[0]])["approval"]["run_id"] == runs[2]


def test_an_approval_after_the_store_was_moved_aside_itemises_the_revision(
    town: Path, tmp_path: Path
) -> None:
    """A run asks for approval, the plan is approved and published; the store turns
    corrupt and is moved aside; the next run of the shift re-plans against the plan the
    message shows (found from it) and asks again. Its Approve revised the message with
    "the changes cannot be itemised": it now itemises them against that plan, as `run`
    does without an approval channel."""
    import shutil

    import pandas as pd

    from rebalance.app.approval import button_value
    from rebalance.app.desk import User

    data = tmp_path / "data"
    shutil.copytree(town, data)
    fake, client, config, _, history, desk = _approving_desk(town, tmp_path)
    history.close()
    first = run(config, data, shift_start="2026-11-30T19:00", client=client)
    value = button_value(first.publish.plan_key, first.publish.content_hash)
    assert "Approved and published" in desk.decide("approve", value, User("U0LEAD"))
    store = config.history_path
    store.rename(f"{store}.corrupt")
    gone = first.plan.moves["courier_id"].iloc[0]  # a courier sent at 19:00 logs off
    couriers = pd.read_csv(data / "couriers.csv", dtype=str, keep_default_na=False)
    couriers[couriers["courier_id"] != gone].to_csv(data / "couriers.csv", index=False)
    second = run(config, data, shift_start="2026-11-30T19:00", client=client)
    assert second.record.extra["previous"]["found_in"] == "slack"
    value = button_value(second.publish.plan_key, second.publish.content_hash)
    assert "Approved and published" in desk.decide("approve", value, User("U0LEAD"))
    [parent] = fake.messages("C0PLANS")
    notes = [m.get("text", "") for m in fake.replies(parent["ts"], "C0PLANS")]
    assert not [n for n in notes if "cannot be itemised" in n]
    [revision] = [n for n in notes if n.startswith("*Plan revised.*")]
    assert f"{gone}: no longer" in revision
