"""`rebalance serve` as a real process, spoken to as Slack speaks (CONTRACT section 10).

Two servers per module (one publishing directly, one behind an approval channel),
both pointed at one fake Slack; commands and clicks are signed form posts.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakeslack import APP_TOKEN, TOKEN, FakeSlack, FakeSocketMode
from slackapp import (
    REBALANCE,
    SECRET,
    Server,
    click_body,
    command_body,
    command_payload,
    slack_env,
    wait_for,
)
from typer.testing import CliRunner

from rebalance.app.approval import ACTION_APPROVE, ACTION_HOLD, button_value
from rebalance.cli import app as cli
from rebalance.config import load_config
from rebalance.generate import generate_city
from rebalance.history import History
from rebalance.publish import plan_key
from rebalance.runner import run

LEAD = "U0LEAD"  # an approver
OTHER = "U0LEAD2"  # another approver
PARTNER = "W0PARTNER"  # a Slack Connect partner, not an approver
JSON = {"Content-Type": "application/json"}
HOSTILE = "<!channel> *Pwn* & <https://evil.example|click>"
runner = CliRunner()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """One fake Slack for the module, with an approval channel the bot is in."""
    with FakeSlack() as slack:
        slack.add_channel("C0APPROVE", "ops-approve", member=True)
        yield slack


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small city whose busiest restaurant has a hostile name."""
    path = generate_city(
        tmp_path_factory.mktemp("city") / "town",
        zones=6,
        couriers=50,
        restaurants=20,
        seed=2,
        shift_start="2026-11-30T19:00",
    )
    frame = pd.read_csv(path / "restaurants.csv", dtype=str)
    top = frame["expected_orders_per_hour"].astype(float).idxmax()
    frame.loc[top, "name"] = HOSTILE
    frame.loc[top, "status"] = "open"
    frame.to_csv(path / "restaurants.csv", index=False)
    return path


def _config(folder: Path, city: Path, name: str, approval: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "city.toml"
    path.write_text(
        f'[city]\nname = "{name}"\ntimezone = "Europe/Paris"\n'
        f'[data]\ndir = "{city}"\n'
        "[shift]\nslot_minutes = 240\n"
        '[slack]\nchannel = "C0PLANS"\n'
        + ('approval_channel = "C0APPROVE"\n' if approval else "")
        + f'approvers = ["{LEAD}", "{OTHER}"]\n'
        '[history]\npath = "state/history.sqlite3"\n'
    )
    return path


@pytest.fixture(scope="module")
def env(fake: FakeSlack) -> Iterator[dict[str, str]]:
    """The server's environment, also set in this process for in-process runs."""
    values = slack_env(fake)
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in values if k.lower().endswith("proxy")]:
            mp.delenv(key, raising=False)
        for key in ("SLACK_API_URL", "SLACK_BOT_TOKEN", "NO_PROXY", "no_proxy"):
            mp.setenv(key, values[key])
        mp.setattr("rebalance.slack.POST_INTERVAL", 0.0)
        yield values


def _server(
    tmp: Path, city: Path, fake: FakeSlack, env: dict[str, str], approval: bool, pause: str = ""
) -> Server:
    name = "Approveville" if approval else "Directville"
    config = _config(tmp / name.lower(), city, name, approval)
    return Server(config, fake, tmp / f"{name.lower()}.log", env, pause=pause).start()


@pytest.fixture(scope="module")
def direct(
    tmp_path_factory: pytest.TempPathFactory, city: Path, fake: FakeSlack, env: dict[str, str]
) -> Iterator[Server]:
    """A server whose re-plans publish to C0PLANS directly."""
    server = _server(tmp_path_factory.mktemp("direct"), city, fake, env, approval=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def approving(
    tmp_path_factory: pytest.TempPathFactory, city: Path, fake: FakeSlack, env: dict[str, str]
) -> Iterator[Server]:
    """A server whose plans go to C0APPROVE first."""
    server = _server(tmp_path_factory.mktemp("approve"), city, fake, env, approval=True)
    yield server
    server.stop()


# ------------------------------------------------------------------ helpers


def _plan(server: Server, shift: str, **changes: Any) -> Any:
    """`rebalance run` of a shift in this process (same history as the server)."""
    config = load_config(server.config)
    if changes:
        config = config.with_changes(**changes)
    return run(config, shift_start=shift)


def _history(server: Server) -> History:
    return History(load_config(server.config).history_path)


def _after_the_others(server: Server, at_least: str) -> str:
    """A shift later than every shift planned on ``server`` so far, and no earlier than
    ``at_least``: the app's commands act on the latest planned shift, and the module's
    tests share one server (and history) in whatever order the workers run them."""
    cfg = load_config(server.config)
    shift = pd.Timestamp(at_least, tz=cfg.city.timezone)
    with _history(server) as h:
        starts = [pd.Timestamp(r.shift_start) for r in h.runs(limit=10_000)]
    if starts:
        shift = max(shift, max(starts).tz_convert(cfg.city.timezone) + pd.Timedelta(minutes=30))
    return shift.strftime("%Y-%m-%dT%H:%M")


def _key(server: Server, shift: str) -> str:
    cfg = load_config(server.config)
    return plan_key(cfg.city.name, pd.Timestamp(shift, tz=cfg.city.timezone))


def _answers(fake: FakeSlack, name: str, n: int = 1) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (
            list(fake.responses.get(name, [])) if len(fake.responses.get(name, [])) >= n else None
        ),
        what=f"answer {name}",
    )


def _in(
    fake: FakeSlack, channel: str, key: str, event: str = "rebalance_plan"
) -> list[dict[str, Any]]:
    """Top-level messages of a channel carrying this plan key in their metadata."""
    return [
        m
        for m in fake.messages(channel)
        if (m.get("metadata") or {}).get("event_type") == event
        and m["metadata"]["event_payload"].get("plan_key") == key
    ]


def _approved_once(
    server: Server, fake: FakeSlack, value: str, key: str, *, user: str, name: str
) -> None:
    """Approve the request with this button value, by the button its message shows
    ("Approve", "Approve after all", "Finish publishing"): answered as published, and
    the shift has one message in the shared channel."""
    button = _approve_button(fake, value)
    server.post(click_body(fake, ACTION_APPROVE, value, user=user, name=name, button=button))
    assert "Approved and published" in _answers(fake, name)[0]["text"]
    assert len(_in(fake, "C0PLANS", key)) == 1


def _put_up(server: Server, fake: FakeSlack, shift: str) -> tuple[str, dict[str, Any], str, Any]:
    """Plan ``shift`` into approval: its plan key, the request message, its Approve
    button's value and its approval record."""
    _plan(server, shift)
    key = _key(server, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    chash = request["metadata"]["event_payload"]["content_hash"]
    with _history(server) as h:
        approval = h.approval(key, chash)
    assert approval is not None
    return key, request, value, approval


def _texts(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or [], ensure_ascii=False) + message.get("text", "")


def _approve_button(fake: FakeSlack, value: str) -> str:
    """The text of the Approve-action button carrying ``value`` in the approval channel
    now, as Slack sends it with a click."""
    texts = [
        e["text"]["text"]
        for m in fake.messages("C0APPROVE")
        for b in m.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ACTION_APPROVE and e.get("value") == value
    ]
    return texts[-1] if texts else "Approve"


def _has_buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


# -------------------------------------------------------------- HTTP basics


def test_healthz_answers_once_ready_and_unknown_paths_404(approving: Server) -> None:
    """GET /healthz is 200 with the mode and city; other paths are 404."""
    health = approving.get("/healthz")
    assert health.status == 200
    assert health.json() == {"status": "ok", "mode": "http", "city": "Approveville"}
    assert approving.get("/nope").status == 404


def test_every_log_line_of_a_start_names_its_event(approving: Server) -> None:
    """A start logged Bolt's "As you gave `client` as well, `token` will be unused." as
    a warning, and each Slack call, without an event (QA): noise for `--quiet` and
    journald alerting, against README's "each with ... event". Now every line has one,
    and no warning is logged by a normal start."""
    lines = approving.lines()
    assert any(line.get("event") == "serve_ready" for line in lines)
    assert [line for line in lines if not line.get("event")] == []
    assert not [line for line in lines if "will be unused" in str(line.get("message"))]
    assert not [line for line in lines if line.get("level") in {"warning", "error"}]


def test_bad_stale_or_missing_signatures_get_401_and_change_nothing(
    approving: Server, fake: FakeSlack
) -> None:
    """A forged, stale (> 5 min) or unsigned request is refused with 401 and does nothing."""
    shift = "2026-11-30T12:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    with _history(approving) as h:
        (request,) = h.approvals(key)
    value = button_value(key, request.content_hash)
    before = len(fake.calls)
    body = click_body(fake, ACTION_APPROVE, value, user=LEAD, name="forged")
    assert approving.post(body, secret="not-the-secret-at-all-0000").status == 401
    stale = int(pd.Timestamp.now().timestamp()) - 6 * 60
    assert approving.post(body, timestamp=stale).status == 401
    assert approving.post(body, sign=False).status == 401
    tampered = body.replace(b"U0LEAD", b"U0LEAX")
    ts = int(pd.Timestamp.now().timestamp())
    from slackapp import signature

    headers = {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(body, ts),
    }
    assert approving.post(tampered, sign=False, headers=headers).status == 401
    command = command_body(fake, "plan", user=LEAD, name="forged-cmd")
    assert approving.post(command, secret="wrong-secret-000000000000").status == 401
    assert len(fake.calls) == before  # no Web API call at all
    assert "forged" not in fake.responses and "forged-cmd" not in fake.responses
    with _history(approving) as h:
        assert h.approval(key, request.content_hash).status == "pending"  # type: ignore[union-attr]
    assert _in(fake, "C0PLANS", key) == []
    logged = [line for line in approving.lines() if line.get("event") == "http"]
    assert [line["status"] for line in logged[-5:]] == [401] * 5


def test_a_refused_request_s_log_line_says_why(approving: Server, fake: FakeSlack) -> None:
    """Every 401 was logged "POST /slack/events -> 401 Unauthorized", whether the
    signing secret was wrong, the clock minutes off or a header missing: nothing to
    tell an operator what to fix. The line now says which (the skew in seconds for a
    timestamp), with neither the secret nor the signatures in it."""
    from slackapp import signature

    body = command_body(fake, "status", user=LEAD, name="why-401")
    now = int(pd.Timestamp.now().timestamp())
    logged = len(approving.lines())
    approving.post(body, secret="not-the-secret-at-all-0000")
    approving.post(body, timestamp=now - 400)
    approving.post(body, timestamp=now + 600)
    approving.post(body, sign=False, headers={"X-Slack-Signature": signature(body, now)})
    approving.post(body, sign=False, headers={"X-Slack-Request-Timestamp": str(now)})
    lines = [line for line in approving.lines()[logged:] if line.get("event") == "http"]
    assert [line["status"] for line in lines] == [401] * 5
    reasons = [line["message"] for line in lines]
    assert "signature mismatch" in reasons[0]
    assert "s in the past" in reasons[1] and any(f"{s} s" in reasons[1] for s in (399, 400, 401))
    assert "s in the future" in reasons[2] and any(f"{s} s" in reasons[2] for s in (599, 600, 601))
    assert "no X-Slack-Request-Timestamp header" in reasons[3]
    assert "no X-Slack-Signature header" in reasons[4]
    for line in lines:
        assert line["message"].startswith("POST /slack/events -> 401 Unauthorized (")
        assert line["reason"] and line["level"] == "warning"
        text = json.dumps(line)
        assert SECRET not in text and signature(body, now)[3:] not in text


def test_bodies_that_are_not_slack_requests_get_401_or_400_not_500(
    approving: Server, fake: FakeSlack
) -> None:
    """A body Bolt cannot parse: unsigned (anyone who can reach the port) 401, like any
    unsigned request; signed 400. Neither is a 500 with a traceback in the logs."""
    garbage = [b"payload=%7Bnot+json", b"payload=", b"payload=%5B1%2C2%5D"]
    logged = len(approving.lines())
    for body in garbage:
        assert approving.post(body, sign=False).status == 401
        assert approving.post(body, secret="wrong-secret-000000000000").status == 401
        assert approving.post(body).status == 400
    lines = approving.lines()[logged:]
    assert not [line for line in lines if line.get("level") == "error"]
    statuses = [
        line["status"] for line in lines if line.get("event") == "http" and line.get("status")
    ]
    assert statuses == [401, 401, 400] * len(garbage)


def test_bytes_slack_never_sends_get_401_not_500(approving: Server) -> None:
    """A body that is not UTF-8, signed or not, and a timestamp of digits other than
    0-9 ("²", which Python calls a digit) are not requests Slack signs: 401 like any
    unsigned request. slack_sdk's check raised on both, and anyone who could reach the
    port got a 500 and a traceback in the logs."""
    logged = len(approving.lines())
    for body in [b"\xa6\x93payload=x", b"command=%2Frebalance&text=\xe9t\xe9"]:
        assert approving.post(body).status == 401
        assert approving.post(body, sign=False).status == 401
    stamp = {"X-Slack-Request-Timestamp": "\u00b2"}
    assert approving.post(b"payload=%7B%7D", headers=stamp).status == 401
    lines = approving.lines()[logged:]
    assert not [line for line in lines if line.get("level") == "error"]
    assert [line.get("status") for line in lines if line.get("event") == "http"] == [401] * 5


def test_a_timestamp_of_hundreds_of_digits_gets_401_not_500(approving: Server) -> None:
    """An unsigned request whose X-Slack-Request-Timestamp had 309 digits or more got a
    500 and an error with a traceback in the log (slack_sdk's int-to-float overflow; at
    5000 digits Python's digit limit): anyone reaching the port could fill the log with
    them. Now it is refused with 401 like any unsigned request, on a warning line that
    names its event."""
    logged = len(approving.lines())
    now = str(int(time.time()))
    for stamp, signature in [
        ("9" * 309, "v0=" + "0" * 64),
        ("9" * 400, "v0=" + "0" * 64),
        ("9" * 5000, "v0=" + "0" * 64),
        # a signature of other letters than Slack's hex: hmac.compare_digest raised on it
        (now, "v0=" + "é" * 64),
    ]:
        headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
        reply = approving.post(b"payload=%7B%7D", sign=False, headers=headers)
        assert reply.status == 401
        assert reply.json() == {"error": "invalid request signature"}
    lines = approving.lines()[logged:]
    assert not [line for line in lines if line.get("level") == "error"]
    assert [line for line in lines if not line.get("event")] == []
    assert [line.get("status") for line in lines if line.get("event") == "http"] == [401] * 4
    assert approving.get("/healthz").status == 200


def test_a_body_larger_than_slack_sends_is_refused_before_it_is_read(
    direct: Server, fake: FakeSlack
) -> None:
    """waitress's default let a request of up to 1 GB in, read whole before its
    signature was checked: anyone reaching the port could make the app hold that much.
    A body over 1 MiB gets 413; the app serves on."""
    try:
        big = direct.post(b"x" * (3 << 20), sign=False)
        assert big.status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed before the body was all sent
    assert direct.post(command_body(fake, "help", user=LEAD, name="after-big")).status == 200


def test_signed_payloads_of_a_shape_slack_never_sends_get_400_not_500(
    approving: Server, fake: FakeSlack
) -> None:
    """Signed JSON whose fields have another shape than Slack's (the clicking user as
    text, actions that are a number or a list of text or lack an action_id, a view
    without a type, an event or its metadata that is text): 400,
    and a warning naming the field. The app's replay guard and Bolt's routing indexed
    into them: a 500 and a traceback in the logs."""
    click = urllib.parse.parse_qs(
        click_body(fake, ACTION_APPROVE, "v", user=LEAD, name="shape").decode()
    )
    payload = json.loads(click["payload"][0])
    shapes = [
        {**payload, "user": "U0LEAD"},
        {**payload, "actions": 7},
        {**payload, "actions": ["rebalance_approve"]},
        {**payload, "actions": []},
        # an action without its action_id, a view without a type, an event's metadata
        # as text: Bolt's routing and our metadata listener indexed into them
        {**payload, "actions": [{"type": "button", "value": "v", "action_ts": "1"}]},
        {"type": "view_submission", "user": {"id": "U0LEAD"}, "view": {"id": "V1"}},
        {
            "type": "event_callback",
            "event_id": "Ev2",
            "event": {"type": "message_metadata_posted", "metadata": "x"},
        },
        {"type": "event_callback", "event": "message", "event_id": "Ev1"},
    ]
    logged = len(approving.lines())
    for shape in shapes:
        body = urllib.parse.urlencode({"payload": json.dumps(shape)}).encode()
        assert approving.post(body).status == 400, shape
    assert approving.post(json.dumps(shapes[-1]).encode(), headers=JSON).status == 400
    lines = approving.lines()[logged:]
    assert not [line for line in lines if line.get("level") == "error"]
    warned = [line["message"] for line in lines if "not a Slack request (" in line["message"]]
    assert len(warned) == 9
    assert "user is not an object" in warned[0] and "event is not an object" in warned[-1]
    assert "an action has no action_id" in warned[4] and "view is not a view" in warned[5]
    assert "event.metadata is not an object" in warned[6]


def test_events_share_the_endpoint(approving: Server) -> None:
    """Slack's URL check and metadata events arrive signed on /slack/events too."""
    check = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"}).encode()
    reply = approving.post(check, headers={"Content-Type": "application/json"})
    assert reply.status == 200 and "c-123" in reply.body
    event = {
        "type": "event_callback",
        "team_id": "T0OPS",
        "api_app_id": "A0APP",
        "event_id": "Ev0001",
        "event_time": 1,
        "event": {
            "type": "message_metadata_posted",
            "channel_id": "C0PLANS",
            "metadata": {"event_type": "rebalance_plan", "event_payload": {}},
        },
    }
    body = json.dumps(event).encode()
    assert approving.post(body, headers={"Content-Type": "application/json"}).status == 200
    wait_for(lambda: [x for x in approving.lines() if x.get("event") == "metadata"], what="event")
    assert approving.post(body, headers={"Content-Type": "application/json"}).status == 200
    assert wait_for(
        lambda: [
            x for x in approving.lines() if x.get("event") == "duplicate" and x["kind"] == "event"
        ]
    )


# ------------------------------------------------------------ approval flow


def test_run_posts_for_approval_and_one_approve_publishes_once(
    approving: Server, fake: FakeSlack
) -> None:
    """run posts to the approval channel only; Approve publishes once and edits the request."""
    shift = "2026-11-30T19:00"
    result = _plan(approving, shift)
    key = _key(approving, shift)
    assert result.publish.action == "approval-requested"
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    assert _has_buttons(request) == [ACTION_APPROVE, ACTION_HOLD]
    assert _in(fake, "C0PLANS", key) == []
    # the same shift again: no second request
    assert _plan(approving, shift).publish.action == "approval-pending"
    assert len(_in(fake, "C0APPROVE", key, "rebalance_approval")) == 1

    value = request["blocks"][-1]["elements"][0]["value"]
    refused = approving.post(click_body(fake, ACTION_APPROVE, value, user=PARTNER, name="partner"))
    assert refused.status == 200
    (answer,) = _answers(fake, "partner")
    assert answer["response_type"] == "ephemeral" and "only the approvers" in answer["text"]
    assert _in(fake, "C0PLANS", key) == []

    reply = approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="approve-1"))
    assert reply.status == 200 and reply.seconds < 3
    (answer,) = _answers(fake, "approve-1")
    assert "Approved and published" in answer["text"]
    (parent,) = _in(fake, "C0PLANS", key)
    assert fake.replies(parent["ts"])  # its thread has the files
    edited = fake.channels["C0APPROVE"].find(request["ts"])
    assert edited is not None and _has_buttons(edited) == []
    assert f"Approved by <@{LEAD}>" in _texts(edited)
    with _history(approving) as h:
        record = h.run(result.run_id)
    assert record is not None and (record.slack_channel, record.slack_ts) == (
        "C0PLANS",
        parent["ts"],
    )
    assert record.extra["approved_by"] == LEAD and record.extra["publish_action"] == "posted"

    posts = fake.methods().count("chat.postMessage")
    # a second click by another approver: says so, does nothing
    approving.post(click_body(fake, ACTION_APPROVE, value, user=OTHER, name="approve-2"))
    (answer,) = _answers(fake, "approve-2")
    assert "Already approved" in answer["text"] and f"<@{LEAD}>" in answer["text"]
    assert len(_in(fake, "C0PLANS", key)) == 1
    assert fake.methods().count("chat.postMessage") == posts


def test_retries_and_replays_of_a_delivery_do_nothing_twice(
    approving: Server, fake: FakeSlack
) -> None:
    """A Slack retry (X-Slack-Retry-Num) or a replayed request is acked and not acted on."""
    shift = "2026-11-30T13:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    body = click_body(fake, ACTION_HOLD, value, user=LEAD, name="hold-once")
    first = approving.post(body)
    assert first.status == 200
    _answers(fake, "hold-once")
    retried = approving.post(
        body, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retried.status == 200
    replayed = approving.post(body)
    assert replayed.status == 200
    duplicates = wait_for(
        lambda: (
            [line for line in approving.lines() if line.get("event") == "duplicate"][-2:] or None
        )
    )
    assert len(duplicates) == 2 and duplicates[0]["retry_num"] == "1"
    assert len(fake.responses["hold-once"]) == 1  # answered once
    with _history(approving) as h:
        approval = h.approvals(key)[0]
    assert approval.status == "held" and approval.decided_by == LEAD
    held = fake.channels["C0APPROVE"].find(request["ts"])
    assert held is not None and _has_buttons(held) == [ACTION_APPROVE]
    assert f"Held by <@{LEAD}>" in _texts(held)
    assert _in(fake, "C0PLANS", key) == []

    # Approve after all (the held message keeps that button)
    _approved_once(approving, fake, value, key, user=OTHER, name="after-hold")


def test_an_outdated_plan_is_refused_with_a_pointer_to_the_newer_one(
    approving: Server, fake: FakeSlack
) -> None:
    """A click on a superseded request publishes nothing and links to the newer plan."""
    shift = "2026-11-30T14:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (old,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    old_value = old["blocks"][-1]["elements"][0]["value"]
    _plan(approving, shift, demand={"orders_per_courier_hour": 1.2})
    requests = _in(fake, "C0APPROVE", key, "rebalance_approval")
    assert len(requests) == 2
    new = requests[1]
    superseded = fake.channels["C0APPROVE"].find(old["ts"])
    assert superseded is not None and _has_buttons(superseded) == []
    assert "Superseded" in _texts(superseded)

    approving.post(click_body(fake, ACTION_APPROVE, old_value, user=LEAD, name="old-click"))
    (answer,) = _answers(fake, "old-click")
    assert "outdated" in answer["text"]
    assert new["ts"].replace(".", "") in answer["text"]  # the permalink of the newer request
    assert _in(fake, "C0PLANS", key) == []


def test_two_simultaneous_approvals_publish_exactly_once(
    approving: Server, fake: FakeSlack
) -> None:
    """Two approvers clicking at the same moment: one publishes, the other is told."""
    shift = "2026-11-30T15:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    bodies = [
        click_body(fake, ACTION_APPROVE, value, user=user, name=f"race-{user}")
        for user in (LEAD, OTHER)
    ]
    threads = [threading.Thread(target=approving.post, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = [_answers(fake, f"race-{user}")[0]["text"] for user in (LEAD, OTHER)]
    assert sum("Approved and published" in t for t in texts) == 1
    assert (
        sum(("approving this plan right now" in t) or ("Already approved" in t) for t in texts) == 1
    )
    assert len(_in(fake, "C0PLANS", key)) == 1


def test_a_failed_publish_leaves_the_plan_pending_and_approve_can_retry(
    approving: Server, fake: FakeSlack
) -> None:
    """Slack refusing the post: the user is told, the request gets its buttons back, a
    second Approve publishes once."""
    shift = "2026-11-30T16:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    fake.fail("chat.postMessage", "error", error="is_archived")
    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="fails"))
    (answer,) = _answers(fake, "fails")
    assert "Publishing failed (exit 5)" in answer["text"] and "is archived" in answer["text"]
    with _history(approving) as h:
        approval = h.approval(key, request["metadata"]["event_payload"]["content_hash"])
    assert approval is not None and approval.status == "pending" and approval.error
    again = fake.channels["C0APPROVE"].find(request["ts"])
    assert again is not None and _has_buttons(again) == [ACTION_APPROVE, ACTION_HOLD]
    assert "failed" in _texts(again)
    assert _in(fake, "C0PLANS", key) == []
    _approved_once(approving, fake, value, key, user=LEAD, name="retry")


def test_approving_a_plan_whose_files_are_gone_says_so_and_takes_its_buttons_away(
    approving: Server, fake: FakeSlack
) -> None:
    """Approve on a plan whose run folder was deleted answered "Publishing failed (exit
    3): not a plan folder: ...; expected a folder written by `rebalance plan --out`
    (write it again with that command)", terminal advice in Slack, and left Approve and
    Hold, so every later click failed the same way. Now the answer is in the app's
    terms (the files are gone; `/rebalance plan` re-plans), the request loses its
    buttons, and the same plan made again is put up for approval anew."""
    import shutil

    shift = "2026-11-30T07:00"
    key, request, value, approval = _put_up(approving, fake, shift)
    shutil.rmtree(approval.plan_dir)
    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="gone"))
    (answer,) = _answers(fake, "gone")
    text = answer["text"]
    assert "cannot be published" in text and "gone" in text and "`/rebalance plan`" in text
    assert "exit 3" not in text and "plan --out" not in text
    message = fake.channels["C0APPROVE"].find(request["ts"])
    assert message is not None and _has_buttons(message) == []
    assert "cannot be published" in _texts(message)
    assert _in(fake, "C0PLANS", key) == []
    again = _plan(approving, shift)  # the same version, planned again
    assert again.publish.action == "approval-requested"
    latest = _in(fake, "C0APPROVE", key, "rebalance_approval")[-1]
    assert latest["ts"] != request["ts"]
    assert _has_buttons(latest) == [ACTION_APPROVE, ACTION_HOLD]
    _approved_once(approving, fake, value, key, user=LEAD, name="gone-then-approved")


def test_approving_a_plan_whose_files_are_damaged_says_so_in_the_apps_terms(
    approving: Server, fake: FakeSlack
) -> None:
    """A plan folder still holding plan.json but with a moves.csv cut mid-value: Approve
    answered "Publishing failed (exit 3): unreadable plan: ...; expected a folder
    written by `rebalance plan --out` (write it again with that command)", advice for
    the terminal. The answer now says the files on the server are damaged, that nothing
    was published and what to do from Slack; the buttons stay, and once the file is put
    back the same request is approved and published."""
    shift = "2026-11-30T06:00"
    key, request, value, approval = _put_up(approving, fake, shift)
    moves = Path(approval.plan_dir) / "moves.csv"
    good = moves.read_bytes()
    moves.write_bytes(good + b'C9,"cut')
    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="damaged"))
    (answer,) = _answers(fake, "damaged")
    text = answer["text"]
    assert "files on the app's server are damaged" in text and "moves.csv" in text, text
    assert "Nothing was published" in text and "`/rebalance plan`" in text
    assert "exit 3" not in text and "plan --out" not in text
    assert _in(fake, "C0PLANS", key) == []
    message = fake.channels["C0APPROVE"].find(request["ts"])
    assert message is not None and _has_buttons(message) == [ACTION_APPROVE, ACTION_HOLD]
    moves.write_bytes(good)
    _approved_once(approving, fake, value, key, user=LEAD, name="repaired")


def test_a_refused_approval_request_says_how_to_fix_it_as_publishing_does(
    approving: Server, fake: FakeSlack
) -> None:
    """Posting the request for approval failed with Slack's bare code ("Slack answered
    invalid_auth", "is_archived", a 429 with no time) and "run again", which failed the
    same way. It now says what publishing says: the token to check, the channel to
    unarchive, when Slack allows the next attempt."""
    from rebalance.errors import PublishError

    cases = [
        ("invalid_auth", "Check SLACK_BOT_TOKEN"),
        ("is_archived", "Unarchive it, or use another channel ([slack] approval_channel)"),
    ]
    for code, fix in cases:
        fake.fail("chat.postMessage", "error", error=code)
        with pytest.raises(PublishError) as info:
            _plan(approving, "2026-11-30T08:00")
        assert "posting the plan for approval to C0APPROVE failed" in str(info.value)
        assert fix in info.value.hint and "never posts the request twice" in info.value.hint
        fake.clear()
    fake.fail("chat.postMessage", "ratelimit", retry_after=300)
    with pytest.raises(PublishError) as info:
        _plan(approving, "2026-11-30T08:00")
    assert "Slack allows the next attempt in 300 s, after" in info.value.hint


def test_an_approval_that_failed_after_its_message_went_up_cannot_be_held(
    approving: Server, fake: FakeSlack
) -> None:
    """Approve posted the parent, then the uploads failed: the request got Approve and
    Hold back, and Hold answered "The plan stays out of the channel" with the message
    up there for good ('held', so cron did nothing). Now the request offers Finish
    publishing only, Hold says why it cannot, and a click completes the thread once."""
    shift = "2026-11-30T09:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    fake.fail("files.completeUploadExternal", "error", error="internal_error", times=None)
    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="partly"))
    (answer,) = _answers(fake, "partly")
    assert "Publishing failed (exit 5)" in answer["text"]
    assert "click Finish publishing to complete it" in answer["text"]
    assert len(_in(fake, "C0PLANS", key)) == 1  # the parent is up
    again = fake.channels["C0APPROVE"].find(request["ts"])
    assert again is not None and _has_buttons(again) == [ACTION_APPROVE]
    assert "Finish publishing" in _texts(again)
    approving.post(click_body(fake, ACTION_HOLD, value, user=LEAD, name="partly-hold"))
    (held,) = _answers(fake, "partly-hold")
    assert "Hold cannot take it back" in held["text"] and "stays out" not in held["text"]
    with _history(approving) as h:
        approval = h.approval(key, request["metadata"]["event_payload"]["content_hash"])
    assert approval is not None and approval.status == "pending"
    fake.clear()
    _approved_once(approving, fake, value, key, user=LEAD, name="partly-finish")


def test_an_approval_whose_publisher_died_is_finished_by_a_click_after_5_minutes(
    approving: Server, fake: FakeSlack
) -> None:
    """serve died after claiming an approval: the request it left says 'publishing…' and
    had no button, so the README's recovery (a click after 5 minutes) could not be made
    and nothing, cron included, ever published the plan. The request keeps a Finish
    publishing button; a click within 5 minutes is refused as a double click, one after
    them publishes once."""
    from datetime import UTC, datetime, timedelta

    from rebalance.app.approval import approval_blocks
    from rebalance.plan import read_plan

    shift = "2026-11-30T10:00"
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    content_hash = request["metadata"]["event_payload"]["content_hash"]
    now = datetime.now(UTC)
    with _history(approving) as h:  # the claim of a process that then died
        claimed = h.transition_approval(
            key,
            content_hash,
            from_states=("pending",),
            status="approving",
            decided_by=OTHER,
            decided_at=now.isoformat(timespec="milliseconds"),
        )
    assert claimed is not None
    plan = read_plan(claimed.plan_dir)
    _, blocks = approval_blocks(plan, claimed, timezone=plan.timezone)
    assert _has_buttons({"blocks": blocks}) == [ACTION_APPROVE]
    assert "click Finish publishing" in json.dumps(blocks)

    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="too-soon"))
    (answer,) = _answers(fake, "too-soon")
    assert "approving this plan right now" in answer["text"]
    assert _in(fake, "C0PLANS", key) == []

    with _history(approving) as h:  # five minutes and more later
        h.transition_approval(
            key,
            content_hash,
            from_states=("approving",),
            status="approving",
            decided_at=(now - timedelta(minutes=6)).isoformat(timespec="milliseconds"),
        )
    _approved_once(approving, fake, value, key, user=LEAD, name="finish")


def test_a_change_behind_approval_puts_the_new_version_up_for_approval(
    approving: Server, fake: FakeSlack, city: Path
) -> None:
    """/rebalance close with an approval channel: the re-plan awaits approval, the older
    request is superseded, the shared channel is untouched until Approve."""
    shift = _after_the_others(approving, "2026-11-30T17:00")
    _plan(approving, shift)
    key = _key(approving, shift)
    frame = pd.read_csv(city / "restaurants.csv", dtype=str)
    rid = str(frame.loc[frame["name"] == HOSTILE, "restaurant_id"].iloc[0])
    approving.post(command_body(fake, f"close {rid}", user=LEAD, name="close-approval"))
    text = _answers(fake, "close-approval")[0]["text"]
    assert "awaits approval" in text
    old, new = _in(fake, "C0APPROVE", key, "rebalance_approval")
    assert _has_buttons(new) == [ACTION_APPROVE, ACTION_HOLD]
    assert _has_buttons(fake.channels["C0APPROVE"].find(old["ts"]) or {}) == []
    assert _in(fake, "C0PLANS", key) == []
    with _history(approving) as h:
        h.clear_overrides(by="test")


def test_a_version_approved_before_is_asked_for_again_once_another_is_shown(
    approving: Server, fake: FakeSlack
) -> None:
    """v1 approved, v2 approved (the channel shows v2), then the plan is v1 again (a
    restaurant closed and opened again): a new request with buttons, not "already
    approved"; Approve puts v1 back in the channel. The same for a version superseded
    before any decision: its old, button-less message is not adopted."""
    shift = "2026-11-30T11:00"
    key = _key(approving, shift)
    other = {"demand": {"orders_per_courier_hour": 1.2}}

    def approve(name: str) -> None:
        request = _in(fake, "C0APPROVE", key, "rebalance_approval")[-1]
        value = request["blocks"][-1]["elements"][0]["value"]
        approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name=name))
        assert "Approved and published" in _answers(fake, name)[0]["text"]

    def shown() -> str:
        with _history(approving) as h:
            publication = h.publication(key, "C0PLANS")
        assert publication is not None
        return publication.content_hash

    v1 = _plan(approving, shift)
    approve("back-1")
    v2 = _plan(approving, shift, **other)
    approve("back-2")
    assert shown() == v2.publish.content_hash != v1.publish.content_hash
    again = _plan(approving, shift)
    assert again.publish.action == "approval-requested"
    assert again.publish.content_hash == v1.publish.content_hash
    requests = _in(fake, "C0APPROVE", key, "rebalance_approval")
    assert len(requests) == 3 and _has_buttons(requests[-1]) == [ACTION_APPROVE, ACTION_HOLD]
    assert _plan(approving, shift).publish.action == "approval-pending"  # asked once
    approve("back-3")
    assert shown() == v1.publish.content_hash
    assert _plan(approving, shift).publish.action == "approved"  # now it is what is shown

    # superseded before a decision, then wanted again
    _plan(approving, shift, **other)
    _plan(approving, shift, demand={"orders_per_courier_hour": 1.1})
    back = _plan(approving, shift, **other)
    assert back.publish.action == "approval-requested"
    latest = _in(fake, "C0APPROVE", key, "rebalance_approval")[-1]
    assert latest["ts"] == back.publish.ts
    assert _has_buttons(latest) == [ACTION_APPROVE, ACTION_HOLD]


# --------------------------------------------------------- slash commands


def test_a_request_is_acknowledged_while_another_process_holds_the_history_store(
    direct: Server, fake: FakeSlack
) -> None:
    """The duplicate check wrote to the history store before the ack: with a run
    holding the store, a command was acked after 8 s, or answered 500 after 30 s. It
    now waits 1 s at most, then checks against the deliveries this process saw: the ack
    comes in time and a retry is still not acted on twice."""
    import sqlite3

    body = command_body(fake, "help", user=LEAD, name="busy")
    direct.post(command_body(fake, "help", user=LEAD, name="warm"))  # the store exists
    db = sqlite3.connect(load_config(direct.config).history_path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        first = direct.post(body)
        assert first.status == 200 and first.seconds < 2.5, first.seconds
        assert "rebalance" in first.body.lower()  # the usage, in the ack
        retried = direct.post(body, headers={"X-Slack-Retry-Num": "1"})
        assert retried.status == 200 and retried.body == ""
    finally:
        db.execute("ROLLBACK")
        db.close()
    # a retry once the store is free again: the store never saw the first delivery
    again = direct.post(body, headers={"X-Slack-Retry-Num": "2"})
    assert again.status == 200 and again.body == ""
    busy = wait_for(
        lambda: [line for line in direct.lines() if line.get("event") == "duplicate_check"]
    )
    assert "checked against this process's recent deliveries" in busy[0]["message"]
    assert wait_for(lambda: [line for line in direct.lines() if line.get("event") == "duplicate"])


def test_a_corrupt_history_store_is_answered_with_the_mv_that_recovers(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """With the history store's bytes overwritten, every command and click was answered
    ":warning: Something went wrong in the app (StorageError); see its log.", logged as
    errors with tracebacks as if a bug, and the duplicate check said the store "did not
    answer within 1 s". Now the reply is the store's own message (README: the file, and
    the `mv` that recovers), and the log has warnings naming their event, no error and
    no traceback, and says the store cannot be used. /healthz said "ok" all the while;
    it now says "degraded" with the store's problem (still 200: the process serves, and
    restarting it would not mend the file)."""
    config = _config(tmp_path / "corrupt", city, "Corruptville", approval=False)
    store = load_config(config).history_path
    History(store).close()
    data = bytearray(store.read_bytes())
    data[:4000] = (b"\x00garbage" * 500)[:4000]
    store.write_bytes(bytes(data))
    server = Server(config, fake, tmp_path / "corrupt.log", env).start()
    try:
        health = server.get("/healthz")
        assert health.status == 200
        assert health.json()["status"] == "degraded"
        assert "corrupt" in health.json()["history_store"]
        assert f"mv {store} {store}.corrupt" in health.json()["history_store"]
        server.post(command_body(fake, "status", user=LEAD, name="corrupt-status"))
        server.post(command_body(fake, "plan", user=LEAD, name="corrupt-plan"))
        value = button_value("corruptville@2026-11-30T18:00Z", "0" * 16)
        server.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="corrupt-click"))
        for name in ("corrupt-status", "corrupt-plan", "corrupt-click"):
            (answer,) = _answers(fake, name)
            text = answer["text"]
            assert "Something went wrong" not in text
            assert "corrupt" in text and str(store) in text
            assert f"mv {store} {store}.corrupt" in text
        lines = server.lines()
    finally:
        server.stop()
    assert not [line for line in lines if line.get("level") in {"error", "critical"}]
    assert not [line for line in lines if "exception" in line]
    assert [line for line in lines if not line.get("event")] == []
    failed = [line for line in lines if line.get("event") == "request_failed"]
    assert len(failed) == 3 and {line["level"] for line in failed} == {"warning"}
    checks = [line["message"] for line in lines if line.get("event") == "duplicate_check"]
    assert checks and all("cannot be used" in m and "within" not in m for m in checks)


def test_commands_from_people_who_may_not_act_are_refused(direct: Server, fake: FakeSlack) -> None:
    """close/open/plan by a non-approver: an ephemeral refusal, nothing stored."""
    reply = direct.post(command_body(fake, "close R00001", user=PARTNER, name="nope"))
    assert reply.status == 200
    assert "only the approvers" in reply.json()["text"]
    assert reply.json()["response_type"] == "ephemeral"
    with _history(direct) as h:
        assert h.overrides() == []


def test_bad_commands_name_what_is_valid(direct: Server, fake: FakeSlack) -> None:
    """An unknown command or wrong arguments get an ephemeral message listing the valid ones."""
    for text in ("frobnicate <!here>", "close", "open a b", "plan now"):
        reply = direct.post(command_body(fake, text, user=LEAD, name="bad"))
        body = reply.json()
        assert body["response_type"] == "ephemeral"
        assert "/rebalance close RESTAURANT_ID" in body["text"]
        assert "<!here>" not in body["text"]


def test_an_answer_to_a_very_long_command_stays_within_slacks_limit(
    direct: Server, fake: FakeSlack
) -> None:
    """`/rebalance why` with a 400-word argument was answered with an 8,497-character
    usage error, and `close` with a 3,000-character id with 3,257: past what Slack
    shows of a reply. Every answer given in the acknowledgement now keeps to the app's
    limit (MAX_REPLY_CHARS), as its later answers do."""
    from rebalance.app.messages import MAX_REPLY_CHARS

    for text in ("why " + " ".join(["<!channel>*x*"] * 400), "close " + "R" * 5000):
        reply = direct.post(command_body(fake, text, user=LEAD, name="long"))
        assert reply.status == 200
        body = reply.json()
        assert body["response_type"] == "ephemeral"
        assert 100 < len(body["text"]) <= MAX_REPLY_CHARS, len(body["text"])


def test_commands_carrying_the_word_payload_are_answered(direct: Server, fake: FakeSlack) -> None:
    """A command whose form holds the letters "payload" anywhere (its text, the user's or
    the channel's name) is answered like any other. Bolt read such a form as a button
    click without its payload: 404 "unhandled request", and Slack showed an error."""
    reply = direct.post(command_body(fake, "close payload", user=LEAD, name="word"))
    assert reply.status == 200
    assert "payload" in reply.json()["text"]  # the unknown id, named in the ack
    form = dict(urllib.parse.parse_qsl(command_body(fake, "help", user=LEAD, name="w2").decode()))
    form.update(user_name="payload-team", channel_name="payloads")
    reply = direct.post(urllib.parse.urlencode(form).encode())
    assert reply.status == 200
    assert "/rebalance close RESTAURANT_ID" in reply.json()["text"]


def test_close_unknown_restaurant_names_valid_ids(direct: Server, fake: FakeSlack) -> None:
    """An unknown restaurant id is answered in the ack itself (what ids look like and the
    nearest ones), not after an ack saying it is being closed; nothing stored."""
    _plan(direct, "2026-11-30T19:00")
    for verb in ("close", "open"):
        name = f"unknown-id-{verb}"
        reply = direct.post(command_body(fake, f"{verb} R0001", user=LEAD, name=name))
        assert reply.status == 200 and reply.seconds < 3
        body = reply.json()
        assert body["response_type"] == "ephemeral"
        assert "Unknown restaurant id `R0001`" in body["text"], body["text"]
        assert "Did you mean" in body["text"] and "`R00001`" in body["text"]
        assert f"/rebalance {verb} RESTAURANT_ID" in body["text"]
        assert "re-planning" not in body["text"].lower()
    wait_for(
        lambda: sum(line.get("outcome") == "unknown_id" for line in direct.lines()) >= 2 or None,
        what="both commands logged as unknown ids",
    )
    assert "unknown-id-close" not in fake.responses and "unknown-id-open" not in fake.responses
    with _history(direct) as h:
        assert h.overrides() == []


def test_a_replan_that_slack_refuses_says_the_plan_is_saved_and_how_to_retry(
    direct: Server, fake: FakeSlack
) -> None:
    """A close, open or plan whose re-plan could not revise the message answered only the error's
    first line: not that the plan is saved, what to fix (the token), nor how to retry.
    The reply now carries the error's hint, the retry in the app's terms, and that the
    channel still shows the plan before the change."""
    _plan(
        direct,
        _after_the_others(direct, "2026-11-30T17:00"),
        demand={"orders_per_courier_hour": 1.3},
    )
    fake.fail("chat.update", "error", error="invalid_auth", times=None)
    try:  # `plan`: the same re-plan as close and open, without an override left behind
        direct.post(command_body(fake, "plan", user=LEAD, name="replan-fails"))
        text = _answers(fake, "replan-fails")[0]["text"]
    finally:
        fake.clear()
    assert "The re-plan failed (exit 5)" in text and "invalid_auth" in text
    assert "The plan is saved." in text and "Check SLACK_BOT_TOKEN" in text
    assert "Then re-plan with `/rebalance plan`" in text
    assert "shows the plan before this change" in text


def test_close_and_open_store_overrides_replan_and_revise_the_message(
    direct: Server, fake: FakeSlack, city: Path
) -> None:
    """close stores who/when, re-plans, revises the shift's message; run and plan see it."""
    shift = _after_the_others(direct, "2026-11-30T19:00")
    _plan(direct, shift)
    key = _key(direct, shift)
    (parent,) = _in(fake, "C0PLANS", key)
    frame = pd.read_csv(city / "restaurants.csv", dtype=str)
    rid = str(frame.loc[frame["name"] == HOSTILE, "restaurant_id"].iloc[0])

    reply = direct.post(command_body(fake, f"close {rid}", user=LEAD, name="close"))
    assert reply.status == 200 and reply.seconds < 3
    # the ack does not claim a change it cannot know of yet (already closed: no re-plan)
    assert "re-planning it if that changes anything" in reply.json()["text"]
    (answer,) = _answers(fake, "close")
    text = answer["text"]
    assert "now *closed*" in text and "revised" in text
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "<https://evil" not in text
    with _history(direct) as h:
        (override,) = h.overrides()
        latest = h.runs(limit=1)[0]
    assert (override.restaurant_id, override.status, override.user_id) == (rid, "closed", LEAD)
    assert override.user_name == "name-of-u0lead"
    zones = pd.read_csv(Path(str(latest.plan_dir)) / "zones.csv", dtype={"zone_id": str})
    before = pd.read_csv(city / "restaurants.csv", dtype=str)
    zone = before.loc[before["restaurant_id"] == rid, "zone_id"].iloc[0]
    n_open = int(((before["zone_id"] == zone) & (before["status"] == "open")).sum())
    assert int(zones.loc[zones["zone_id"] == zone, "open_restaurants"].iloc[0]) == n_open - 1
    edited = fake.channels["C0PLANS"].find(parent["ts"])
    assert edited is not None and "edited" in edited
    assert any("Plan revised" in m.get("text", "") for m in fake.replies(parent["ts"]))
    assert len(_in(fake, "C0PLANS", key)) == 1
    # a cron run of the shift reads the same override: same plan, nothing posted
    assert _plan(direct, shift).publish.action == "unchanged"

    # the CLI sees the same override: list, and `plan --config`
    listed = runner.invoke(
        cli, ["overrides", "list", "--config", str(direct.config), "--format", "json"]
    )
    assert listed.exit_code == 0, listed.output
    assert [o["restaurant_id"] for o in json.loads(listed.stdout)] == [rid]
    out = city.parent / "planned-with-overrides"
    planned = runner.invoke(
        cli,
        [
            "plan",
            str(city),
            "--config",
            str(direct.config),
            "--shift-start",
            shift,
            "--out",
            str(out),
        ],
    )
    assert planned.exit_code == 0, planned.output
    rows = pd.read_csv(out / "zones.csv", dtype={"zone_id": str}).set_index("zone_id")
    assert int(rows.loc[zone, "open_restaurants"]) == n_open - 1
    assert "override" in planned.stderr

    # status shows it; open undoes it
    direct.post(command_body(fake, "status", user=PARTNER, name="status"))
    status = _answers(fake, "status")[0]["text"]
    assert "Directville" in status and f"`{rid}` closed by <@{LEAD}>" in status
    direct.post(command_body(fake, f"open {rid}", user=OTHER, name="open"))
    assert "now *open*" in _answers(fake, "open")[0]["text"]
    with _history(direct) as h:
        assert [o.status for o in h.overrides()] == ["closed", "open"]
    direct.post(command_body(fake, "plan", user=LEAD, name="replan"))
    assert "unchanged" in _answers(fake, "replan")[0]["text"]

    none = runner.invoke(cli, ["overrides", "clear", "--config", str(direct.config), "--id", "999"])
    assert none.exit_code == 0 and "cleared nothing" in none.stderr and "--id 999" in none.stderr
    cleared = runner.invoke(cli, ["overrides", "clear", "--config", str(direct.config)])
    assert cleared.exit_code == 0 and "cleared 2" in cleared.stderr
    with _history(direct) as h:
        assert h.overrides() == [] and len(h.overrides(active=False)) == 2


def test_status_of_another_city_names_the_one_served(direct: Server, fake: FakeSlack) -> None:
    """`/rebalance status Lyon` on the Directville app says which city it serves."""
    direct.post(command_body(fake, "status Lyon", user=PARTNER, name="status-lyon"))
    text = _answers(fake, "status-lyon")[0]["text"]
    assert "Unknown city `Lyon`" in text and "Directville" in text


def test_logs_are_json_lines_without_secrets(direct: Server, fake: FakeSlack) -> None:
    """Every log line is JSON; no token or signing secret in any of them (after a
    command of its own: with tests spread over workers, none may have run here)."""
    assert direct.post(command_body(fake, "status", user=LEAD, name="for-logs")).status == 200
    wait_for(
        lambda: any(line.get("event") == "command" for line in direct.lines()) or None,
        what="a command in the log",
    )
    raw = direct.log.read_text()
    assert TOKEN not in raw and SECRET not in raw
    events = {line.get("event") for line in direct.lines()}
    assert {"serve_ready", "http", "command"} <= events


# ---------------------------------------------------------------- process


def test_sigterm_finishes_the_work_under_way_then_exits_0(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """SIGTERM right after an acked /rebalance plan: the re-plan completes, the user gets
    the answer, the server logs serve_stop and exits 0."""
    # the server's re-plans pause 2 s after planning (tests/pause_run.py): SIGTERM lands
    # mid-run. (An environment variable once did this; since it was gone the re-plan
    # could finish before the signal, and the order below failed on a loaded machine.)
    server = _server(tmp_path, city, fake, env, approval=False, pause="plan:2")
    shift = "2026-11-30T20:00"
    _plan(server, shift)
    reply = server.post(command_body(fake, "plan", user=LEAD, name="before-stop"))
    assert reply.status == 200
    assert server.stop(signal.SIGTERM) == 0
    assert "Re-planned" in fake.responses["before-stop"][0]["text"]
    with _history(server) as h:
        assert [r.status for r in h.runs(limit=5)] == ["succeeded", "succeeded"]
    events = [line.get("event") for line in server.lines()]
    assert events[-1] == "serve_stop"
    last_replan = len(events) - 1 - events[::-1].index("replan")
    assert events.index("serve_stopping") < last_replan  # the re-plan finished while stopping


def test_status_and_why_are_answered_while_replans_are_queued(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """Read-only answers shared the re-plans' four threads: after five `/rebalance plan`
    (re-plans run one at a time), `/rebalance status` came 27-31 s later. Now status
    and why have their own threads: answered at once while every re-plan still waits."""
    # each re-plan sleeps 20 s after validating (tests/pause_run.py)
    server = _server(tmp_path, city, fake, env, approval=False, pause="validate:20")
    try:
        _plan(server, "2026-11-30T19:00")
        plans = [f"queued-plan-{i}" for i in range(5)]
        for name in plans:
            assert server.post(command_body(fake, "plan", user=LEAD, name=name)).status == 200
        server.post(command_body(fake, "status", user=LEAD, name="read-status"))
        server.post(command_body(fake, "why Z0001", user=LEAD, name="read-why"))
        status = wait_for(lambda: fake.responses.get("read-status"), timeout=10)
        why = wait_for(lambda: fake.responses.get("read-why"), timeout=10)
        assert "Latest plan" in status[0]["text"]
        # the first slot's shortage, beside the whole shift's coverage: said so
        assert re.search(r"moved, shortage now \d+\.", status[0]["text"])
        assert why[0]["text"].startswith("*Why Z0001")
        assert not [name for name in plans if fake.responses.get(name)]  # still re-planning
    finally:
        server.stop(signal.SIGKILL)  # not the 100 s of re-plans a SIGTERM would finish


def test_a_replan_waits_quietly_for_a_cron_run_of_the_same_shift(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """/rebalance plan while a cron run of the shift holds its lock: the re-plan waits for
    it, says so once (info), then plans and answers. Each second of the wait used to be
    a run of its own: a "skipped" row in the history and an error line in the log, for
    alerting on errors to page someone about a normal wait."""
    from slackapp import PAUSE_RUN

    from rebalance.lock import read_holder

    server = _server(tmp_path, city, fake, env, approval=False)
    shift = "2026-11-30T21:00"
    _plan(server, shift)
    command = ["run", "--config", str(server.config), "--shift-start", shift]
    cron = subprocess.Popen(
        [sys.executable, str(PAUSE_RUN), "lock:3", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    locks = load_config(server.config).history_path.parent / "locks"
    wait_for(
        lambda: [h for h in map(read_holder, locks.glob("*.lock")) if h and h.pid == cron.pid],
        what="the cron run's lock",
    )
    logged = len(server.lines())
    try:
        assert server.post(command_body(fake, "plan", user=LEAD, name="queued")).status == 200
        assert "Re-planned" in _answers(fake, "queued")[0]["text"]
    finally:
        _, err = cron.communicate(timeout=60)
        server.stop()
    assert cron.returncode == 0, err
    lines = server.lines()[logged:]
    assert not [line for line in lines if line.get("level") == "error"]
    assert len([line for line in lines if line.get("event") == "lock_wait"]) == 1
    with _history(server) as h:
        assert [r.status for r in h.runs(limit=5)] == ["succeeded"] * 3


def test_socket_mode_takes_commands_over_the_websocket(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """--socket-mode: commands arrive over Slack's WebSocket and are acked there."""
    socket = FakeSocketMode(fake)
    server = None
    try:
        config = _config(tmp_path / "socket", city, "Socketville", approval=False)
        server = Server(
            config,
            fake,
            tmp_path / "socket.log",
            {**env, "SLACK_APP_TOKEN": APP_TOKEN},
            args=("--socket-mode",),
        ).start()
        assert server.get("/healthz").json()["mode"] == "socket"
        assert server.get("/slack/events").status == 404  # nothing comes over HTTP
        wait_for(socket.connected, what="a Socket Mode connection")
        refused = socket.send(
            "slash_commands", command_payload(fake, "plan", user=PARTNER, name="sock-refused")
        )
        assert "only the approvers" in refused["text"]
        socket.send("slash_commands", command_payload(fake, "status", user=LEAD, name="sock"))
        assert "Socketville" in _answers(fake, "sock")[0]["text"]
    finally:
        if server is not None:
            assert server.stop() == 0
        socket.close()
        fake.socket = None
    raw = server.log.read_text()
    assert APP_TOKEN not in raw and TOKEN not in raw


def test_an_approval_channel_without_approvers_is_warned_at_start(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """`[slack] approval_channel` with `approvers = []`: serve started as if all were
    well, and every plan then waited for an approval nobody may give. The start now
    logs a warning naming its event, the channel and the key to set."""
    config = _config(tmp_path, city, "Nobodyville", approval=True)
    config.write_text(config.read_text().replace(f'["{LEAD}", "{OTHER}"]', "[]"))
    server = Server(config, fake, tmp_path / "nobody.log", env).start()
    try:
        lines = server.lines()
    finally:
        server.stop()
    (warned,) = [line for line in lines if line.get("event") == "no_approvers"]
    assert warned["level"] == "warning"
    assert "C0APPROVE" in warned["message"] and "[slack] approvers" in warned["message"]


def test_serve_needs_its_secrets(
    tmp_path: Path, city: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN in Socket Mode): exit 3 naming it."""
    config = _config(tmp_path, city, "Nowhere", approval=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    result = runner.invoke(cli, ["serve", "--config", str(config), "--log-format", "json"])
    assert result.exit_code == 3 and "SLACK_SIGNING_SECRET" in result.stderr
    result = runner.invoke(cli, ["serve", "--config", str(config), "--socket-mode"])
    assert result.exit_code == 3 and "SLACK_APP_TOKEN" in result.stderr
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-not-an-app-token")
    result = runner.invoke(cli, ["serve", "--config", str(config), "--socket-mode"])
    assert result.exit_code == 3 and "xapp-" in result.stderr
    assert "xoxb-not-an-app-token" not in result.output
    # an approval channel given by name is refused at start, not at the first re-plan
    named = tmp_path / "named.toml"
    text = config.read_text(encoding="utf-8")
    named.write_text(text.replace("[slack]", '[slack]\napproval_channel = "ops-approve"'))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    result = runner.invoke(cli, ["serve", "--config", str(named)])
    assert result.exit_code == 3 and "slack.approval_channel" in result.stderr


def test_serve_refuses_to_start_on_a_bad_token_no_slack_or_a_busy_port(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """Refused token: exit 3; Slack out of reach: exit 5; port in use: exit 2; all named."""
    config = _config(tmp_path, city, "Nowhere", approval=False)

    def serve(*args: str, **changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REBALANCE, "serve", "--config", str(config), *args],
            env={**env, **changes},
            capture_output=True,
            text=True,
            timeout=60,
        )

    bad = serve("--port", "0", SLACK_BOT_TOKEN="xoxb-not-the-right-one")
    assert bad.returncode == 3 and "refused the bot token (invalid_auth)" in bad.stderr
    assert "xoxb-not-the-right-one" not in bad.stdout + bad.stderr
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
    gone = serve("--port", "0", SLACK_API_URL=dead)
    assert gone.returncode == 5 and "cannot reach Slack" in gone.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = serve("--port", str(busy.getsockname()[1]))
    assert taken.returncode == 2 and "cannot listen on 127.0.0.1" in taken.stderr


def test_slack_failing_while_the_app_starts_is_exit_5_a_refused_app_token_exit_3(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """Bolt's own auth.test (after ours passed) meeting a 500 is Slack failing for now:
    exit 5, which the README's unit restarts (it was exit 3, "refused the bot token",
    which it does not). Socket Mode with a refused app token is exit 3 naming
    SLACK_APP_TOKEN (it was a traceback with exit 1)."""
    config = _config(tmp_path, city, "Startville", approval=False)

    def serve(*args: str, **changes: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [REBALANCE, "serve", "--config", str(config), "--port", "0", *args],
            env={**env, **changes},
            capture_output=True,
            text=True,
            timeout=60,
        )

    fake.fail("auth.test", "http500", times=None, after=1)
    blip = serve()
    assert blip.returncode == 5, blip.stderr
    assert "Slack failed while the app started" in blip.stderr
    assert "refused" not in blip.stderr and "Traceback" not in blip.stderr
    fake.clear()
    socket = FakeSocketMode(fake)
    try:
        wrong = serve("--socket-mode", SLACK_APP_TOKEN="xapp-1-A0APP-wrong-000000")
    finally:
        socket.close()
        fake.socket = None
    assert wrong.returncode == 3, wrong.stderr
    assert "SLACK_APP_TOKEN" in wrong.stderr and "invalid_auth" in wrong.stderr
    assert "Traceback" not in wrong.stderr + wrong.stdout


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (429, "ratelimited", 5),
        (500, "", 5),
        (200, "invalid_auth", 3),
        (200, "socket_mode_not_enabled", 3),
        (None, None, 5),  # no answer: a timeout
    ],
)
def test_what_a_failure_at_start_becomes(status: int | None, error: str | None, code: int) -> None:
    """Slack's answer decides (`_start_failure`): a refused token or app setting is exit 3
    naming the key, anything else (429, 5xx, no answer, also behind Bolt's own error)
    exit 5."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

    from rebalance.app.server import _start_failure

    class Client:
        def scrub(self, text: str) -> str:
            return text

    if status is None:
        exc: Exception = TimeoutError("timed out")
    else:
        response = SlackResponse(
            client=None,
            http_verb="POST",
            api_url="http://x/api/auth.test",
            req_args={},
            data={"ok": False, "error": error},
            headers={},
            status_code=status,
        )
        try:
            try:
                raise SlackApiError("failed", response)
            except SlackApiError:
                raise BoltError("auth.test failed")  # noqa: B904 - as Bolt's App() raises it
        except BoltError as wrapped:
            exc = wrapped
    failure = _start_failure(exc, Client(), what="the bot token", key="SLACK_BOT_TOKEN", valid="x")
    assert failure.exit_code == code
    assert ("SLACK_BOT_TOKEN" in str(failure)) == (code == 3)


def test_manifest_has_command_interactivity_scopes_and_metadata() -> None:
    """`rebalance slack manifest --url` prints what an admin pastes once."""
    result = runner.invoke(cli, ["slack", "manifest", "--url", "https://ops.example.com"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    url = "https://ops.example.com/slack/events"
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/rebalance" and command["url"] == url
    settings = manifest["settings"]
    assert settings["interactivity"] == {"is_enabled": True, "request_url": url}
    assert settings["event_subscriptions"]["request_url"] == url
    kinds = {m["event_type"] for m in settings["event_subscriptions"]["metadata_subscriptions"]}
    assert {"rebalance_plan", "rebalance_approval"} <= kinds
    assert {"chat:write", "commands", "files:write"} <= set(
        manifest["oauth_config"]["scopes"]["bot"]
    )
    assert runner.invoke(cli, ["slack", "manifest", "--url", "http://x"]).exit_code == 2
    socket = json.loads(runner.invoke(cli, ["slack", "manifest", "--socket-mode"]).stdout)
    assert socket["settings"]["socket_mode_enabled"] is True


def test_every_command_of_the_in_app_help_is_in_the_readme_and_the_manifest() -> None:
    """`/rebalance why ZONE_ID` works and is in the in-app help, but the README's table
    of the app's commands, its `serve` row (status|close|open|plan) and the manifest's
    usage hint (what Slack suggests as one types) left it out. Every command of the
    help is now in all three."""
    from rebalance.app.commands import USAGE
    from rebalance.app.manifest import manifest as make

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    commands = [line.split("`")[1] for line in USAGE.splitlines() if line.startswith("• ")]
    assert "/rebalance why ZONE_ID" in commands
    (hint,) = [c["usage_hint"] for c in make(url="https://x.example")["features"]["slash_commands"]]
    serve_row = next(line for line in readme.splitlines() if line.startswith("| `rebalance serve"))
    for command in commands:
        assert f"| `{command}` |" in readme, command
        assert command.removeprefix("/rebalance ") in hint, command
        assert command.split()[1] in serve_row, command


def test_approve_clicked_on_the_pending_request_does_not_publish_a_plan_held_just_before(
    approving: Server, fake: FakeSlack
) -> None:
    """Hold and Approve clicked at the same moment: Hold was answered "The plan stays
    out", then Approve, which shares its action and value with "Approve after all",
    published it anyway. The pending request's Approve now decides an undecided plan
    only: it says who held it and publishes nothing; Approve after all still publishes
    it, once."""
    shift = "2026-11-30T09:30"  # no other test plans it (the module shares a fake Slack)
    _plan(approving, shift)
    key = _key(approving, shift)
    (request,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
    value = request["blocks"][-1]["elements"][0]["value"]
    approving.post(click_body(fake, ACTION_HOLD, value, user=OTHER, name="hold-first"))
    assert "stays out" in _answers(fake, "hold-first")[0]["text"]
    # the approver's click left the pending view just after the hold went in
    approving.post(click_body(fake, ACTION_APPROVE, value, user=LEAD, name="late-approve"))
    text = _answers(fake, "late-approve")[0]["text"]
    assert f"<@{OTHER}> held this plan just before your click" in text
    assert "nothing was published" in text and "Approve after all" in text
    assert _in(fake, "C0PLANS", key) == []
    with _history(approving) as h:
        approval = h.approval(key, request["metadata"]["event_payload"]["content_hash"])
    assert approval is not None and (approval.status, approval.decided_by) == ("held", OTHER)
    assert _approve_button(fake, value) == "Approve after all"
    _approved_once(approving, fake, value, key, user=LEAD, name="after-all")


def test_an_approve_that_waited_behind_a_replan_publishes_nothing_and_points_to_the_newer(
    tmp_path: Path, city: Path, fake: FakeSlack, env: dict[str, str]
) -> None:
    """Approve clicked while `/rebalance close` re-planned the shift: the click waited
    for the shift's lock, then published the old plan (without the closure) over the
    newer version the re-plan had just put up for approval, and said "Approved and
    published". After the wait it now sees the newer version: nothing is published, the
    old request is marked superseded, and the approver is pointed to the newer one."""
    # each re-plan of this server sleeps 6 s after validating, holding the shift's lock
    server = _server(tmp_path, city, fake, env, approval=True, pause="validate:6")
    try:
        shift = "2026-11-30T10:30"  # its city shares the module's fake Slack: a shift of its own
        _plan(server, shift)
        key = _key(server, shift)
        (old,) = _in(fake, "C0APPROVE", key, "rebalance_approval")
        value = old["blocks"][-1]["elements"][0]["value"]
        frame = pd.read_csv(city / "restaurants.csv", dtype=str)
        rid = str(frame.loc[frame["name"] == HOSTILE, "restaurant_id"].iloc[0])
        server.post(command_body(fake, f"close {rid}", user=LEAD, name="close-now"))
        from rebalance.lock import read_holder

        locks = load_config(server.config).history_path.parent / "locks"
        assert server.proc is not None
        wait_for(  # the re-plan holds the shift's lock (the first plan was this process's)
            lambda: [
                h for h in map(read_holder, locks.glob("*.lock")) if h and h.pid == server.proc.pid
            ],
            what="the re-plan's lock",
        )
        server.post(click_body(fake, ACTION_APPROVE, value, user=OTHER, name="approve-old"))
        assert "awaits approval" in _answers(fake, "close-now")[0]["text"]
        text = _answers(fake, "approve-old")[0]["text"]
        assert "This plan is outdated" in text and "Nothing was published" in text, text
        assert _in(fake, "C0PLANS", key) == []  # the shared channel untouched
        old_now, new = _in(fake, "C0APPROVE", key, "rebalance_approval")
        assert _has_buttons(fake.channels["C0APPROVE"].find(old_now["ts"]) or {}) == []
        assert _has_buttons(new) == [ACTION_APPROVE, ACTION_HOLD]
        with _history(server) as h:
            statuses = {a.content_hash: a.status for a in h.approvals(key)}
        assert sorted(statuses.values()) == ["pending", "superseded"]
    finally:
        server.stop(signal.SIGKILL)


def test_a_button_the_app_does_not_know_is_answered_and_logged_as_an_action(
    direct: Server, fake: FakeSlack
) -> None:
    """A click on a button whose action id is not the app's (another app's, an older
    version's) got Bolt's 404, which Slack shows as a bare error, and a log line with no
    event. It is now acknowledged, answered ephemerally and logged as an action."""
    logged = len(direct.lines())
    body = click_body(fake, "rebalance_<!here>_old", "{}", user=LEAD, name="stray")
    reply = direct.post(body)
    assert reply.status == 200
    (answer,) = _answers(fake, "stray")
    assert "is not one of this app's; nothing was done" in answer["text"]
    assert "<!here>" not in answer["text"]
    lines = direct.lines()[logged:]
    assert all(line.get("event") for line in lines), lines
    assert any(line.get("event") == "action" and line.get("outcome") == "unknown" for line in lines)
