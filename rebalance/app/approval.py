"""Plans awaiting approval (CONTRACT section 10, ``[slack] approval_channel``).

When the approval channel is set, `rebalance run` calls `request_approval` instead of
publishing: the plan goes to the approval channel with Approve and Hold buttons, and
the history store records it (``approvals``: plan key and content hash -> message,
state). Exactly once, as publishing: the same plan version is never put up twice (a
record, or else a message in the channel carrying its metadata, is found first), and
a newer version of the shift's plan marks the older pending one ``superseded`` and
edits its message to point to the newer one.

`approval_blocks` draws the message in each state; `rebalance.app.desk` makes the
decisions and calls `edit_approval` afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rebalance.errors import ConfigError, Issue

from .messages import channel_ref, context, esc, slack_time, user_ref

if TYPE_CHECKING:
    from rebalance.config import Config
    from rebalance.history import Approval, History
    from rebalance.plan import Plan
    from rebalance.publish import PublishResult, SlackApi

__all__ = [
    "ACTION_APPROVE",
    "ACTION_HOLD",
    "APPROVAL_EVENT_TYPE",
    "APPROVE_TEXT",
    "approval_blocks",
    "approval_wanted",
    "check_approval_channel",
    "edit_approval",
    "publish_or_request_approval",
    "request_approval",
]

APPROVAL_EVENT_TYPE = "rebalance_approval"
ACTION_APPROVE = "rebalance_approve"
ACTION_HOLD = "rebalance_hold"
#: The Approve button of an undecided request. A click on it decides only an undecided
#: plan: one held meanwhile (a Hold a few ms earlier) is published by its "Approve after
#: all" (or "Finish publishing") button alone, which shares its action and value.
APPROVE_TEXT = "Approve"
#: How far back the approval channel is searched for an unrecorded request.
SEARCH_HOURS = 36


def publish_or_request_approval(
    plan: Plan,
    *,
    plan_dir: str | Path,
    config: Config,
    channel: str | None = None,
    dry_run: bool = False,
    history: History,
    client: SlackApi | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
    shown: Plan | None = None,
) -> PublishResult:
    """What `rebalance run` does with its plan: `rebalance.publish.publish` it, or, with
    ``[slack] approval_channel`` set, `request_approval`.

    ``plan`` is published from memory; ``plan_dir`` is the folder it was written to,
    which an approval request records so that Approve publishes that very plan later.
    ``shown``: `publish`'s (the plan the message shows, found from the run folders).
    """
    if approval_wanted(config):
        return request_approval(
            plan,
            plan_dir=plan_dir,
            config=config,
            channel=channel,
            dry_run=dry_run,
            history=history,
            client=client,
            run_id=run_id,
            log=log,
        )
    from rebalance.publish import publish

    return publish(
        plan,
        config=config,
        channel=channel,
        dry_run=dry_run,
        history=history,
        client=client,
        log=log,
        shown=shown,
    )


def approval_wanted(config: Config) -> bool:
    """Whether plans go to ``[slack] approval_channel`` before the shared channel."""
    return bool(config.slack.approval_channel.strip())


def check_approval_channel(config: Config) -> None:
    """Raise `ConfigError` (exit 3) when ``[slack] approval_channel`` is set but is not
    a channel ID: before a run plans, and when the app starts, not at publish time."""
    if approval_wanted(config):
        _channel_id(config.slack.approval_channel, "slack.approval_channel")


T = TypeVar("T")


def _channel_id(value: str, key: str) -> str:
    target = value.strip()
    if not target:
        raise ConfigError(
            Issue(
                "no Slack channel to publish approved plans to",
                key=key,
                valid="a channel ID such as 'C0123ABCD'",
            ),
            title="invalid configuration",
        )
    from rebalance.config import is_channel_id

    if not is_channel_id(target):
        raise ConfigError(
            Issue(
                "not a Slack channel ID (a channel is addressed by its ID, not its name)",
                key=key,
                value=target,
                valid="an ID such as 'C0123ABCD' (channel details, bottom of the About tab)",
            ),
            title="invalid configuration",
        )
    return target


def button_value(plan_key: str, content_hash: str) -> str:
    """What the buttons carry: the plan version they decide on."""
    return json.dumps({"k": plan_key, "h": content_hash}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, str] | None:
    """(plan key, content hash) from a button value, or None if it is not ours."""
    try:
        data = json.loads(value)
        return str(data["k"]), str(data["h"])
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def approval_blocks(
    plan: Plan,
    approval: Approval,
    *,
    timezone: str,
    note: str | None = None,
    newer_link: str | None = None,
    shown: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """(text fallback, blocks) of the approval message in ``approval.status``.

    pending: Approve and Hold; held: Approve only; approved and superseded: no buttons,
    who and when (or the pointer to the newer plan). ``note`` adds a line (an error).
    ``shown``: an approval whose publishing failed with the message already in the
    target channel: Finish publishing only (Hold cannot take a message back).

    The body is the parent message the shared channel will get (`build_messages`):
    for a plan in slots, what to move at the shift start and what is coming slot by
    slot; what the thread will hold is named in the footer.
    """
    from rebalance.publish import build_messages
    from rebalance.views.wording import plural

    messages = build_messages(plan, channel=approval.channel)
    parent = messages[0]
    blocks = list(parent["blocks"][:-1])  # its footer speaks of the thread's files
    files = (
        "moves.csv, zones.csv and slots.csv" if plan.slot_count > 1 else "moves.csv and zones.csv"
    )
    parts = len(messages) - 1
    rest = f"{plural(parts, 'more message')} (what does not fit here), " if parts else ""
    thread = f"its thread gets {rest}{files}"
    target = channel_ref(approval.target_channel)
    value = button_value(approval.plan_key, approval.content_hash)
    approve = {
        "type": "button",
        "action_id": ACTION_APPROVE,
        "text": {"type": "plain_text", "text": APPROVE_TEXT},
        "style": "primary",
        "value": value,
    }
    hold = {
        "type": "button",
        "action_id": ACTION_HOLD,
        "text": {"type": "plain_text", "text": "Hold"},
        "value": value,
    }
    when = slack_time(approval.decided_at, timezone)
    who = user_ref(approval.decided_by)
    status = approval.status
    footer = f"Plan {esc(plan.plan_id)} · {esc(plan.status)} · "
    finish = {**approve, "text": {"type": "plain_text", "text": "Finish publishing"}}
    if shown and status in {"pending", "held"}:
        text = (
            f":warning: Approved; its message is up in {target}, but publishing did not "
            "finish (its thread is incomplete). Click Finish publishing."
        )
        blocks += [context(footer + text), {"type": "actions", "elements": [finish]}]
    elif status == "pending":
        text = f"Plan awaiting approval: Approve publishes it to {target}; {thread}."
        blocks += [context(footer + text), {"type": "actions", "elements": [approve, hold]}]
    elif status == "held":
        approve = {**approve, "text": {"type": "plain_text", "text": "Approve after all"}}
        text = f":double_vertical_bar: Held by {who} at {when}. Not published to {target}."
        blocks += [context(footer + text), {"type": "actions", "elements": [approve]}]
    elif status == "approving":
        # The button stays: if the publishing process dies, a click after
        # `desk.STALE_APPROVING` finishes the message (earlier it is refused as a double
        # click). Without it the request said "publishing…" for good and nothing, cron
        # included, could finish it.
        text = (
            f":hourglass_flowing_sand: Approved by {who} at {when}; publishing to {target}… "
            "If this line is still here in 5 minutes, click Finish publishing."
        )
        blocks += [context(footer + text), {"type": "actions", "elements": [finish]}]
    elif status == "approved":
        text = f":white_check_mark: Approved by {who} at {when}; published to {target}."
        blocks.append(context(footer + text))
    else:  # superseded
        pointer = f"<{newer_link}|a newer plan>" if newer_link else "a newer plan"
        text = f":fast_forward: Superseded by {pointer} for this shift. Not published."
        blocks.append(context(footer + text))
    if note:
        blocks.append(context(note))
    fallback = f"{parent['text']} {text}"
    return fallback[:3000], blocks


def _metadata(plan_key: str, content_hash: str, plan_id: str) -> dict[str, Any]:
    return {
        "event_type": APPROVAL_EVENT_TYPE,
        "event_payload": {"plan_key": plan_key, "content_hash": content_hash, "plan_id": plan_id},
    }


def edit_approval(
    client: SlackApi,
    plan: Plan,
    approval: Approval,
    *,
    timezone: str,
    note: str | None = None,
    newer_link: str | None = None,
    shown: bool = False,
) -> None:
    """chat.update of the approval message to show ``approval``'s state (``shown``: see
    `approval_blocks`)."""
    if not approval.ts:
        return
    text, blocks = approval_blocks(
        plan, approval, timezone=timezone, note=note, newer_link=newer_link, shown=shown
    )
    client.update_message(
        channel=approval.channel,
        ts=approval.ts,
        text=text,
        blocks=blocks,
        metadata=_metadata(approval.plan_key, approval.content_hash, plan.plan_id),
    )


#: The approval message of a request whose plan files are gone (`mark_unpublishable`).
UNPUBLISHABLE = (
    ":warning: This plan cannot be published: its files on the app's server are gone. "
    "Not published. `/rebalance plan` re-plans the shift and puts the new version up here."
)


def mark_unpublishable(client: SlackApi, approval: Approval) -> None:
    """chat.update of a request whose plan files are gone: a short text without its
    buttons (the plan cannot be drawn again), as for a superseded one whose folder is
    gone. Its Approve could only fail, every time."""
    if approval.ts:
        client.update_message(
            channel=approval.channel,
            ts=approval.ts,
            text=UNPUBLISHABLE,
            blocks=[context(UNPUBLISHABLE)],
        )


def has_plan(folder: str) -> bool:
    """Whether a request's plan folder still holds its plan.json: without it the request
    can only fail (`mark_unpublishable`), and the same version is put up anew."""
    return (Path(folder) / "plan.json").is_file()


def permalink(client: SlackApi, channel: str, ts: str | None) -> str | None:
    """A link to a message, or None when Slack (or a client without
    ``chat.getPermalink``) cannot give one."""
    from rebalance.slack import SlackCallError

    link = getattr(client, "permalink", None)
    if not ts or link is None:
        return None
    try:
        return str(link(channel, ts)) or None
    except SlackCallError:
        return None


def request_approval(
    plan: Plan,
    *,
    plan_dir: str | Path,
    config: Config,
    channel: str | None = None,
    dry_run: bool = False,
    history: History,
    client: SlackApi | None = None,
    run_id: str | None = None,
    log: Callable[[str], None] | None = None,
) -> PublishResult:
    """Put ``plan`` (written to ``plan_dir``) up for approval once; returns a
    `PublishResult` whose ``action`` is ``approval-requested``, ``approval-pending``
    (this version is already up), ``approved`` (already approved and published) or
    ``dry-run``.

    ``channel`` (default ``[slack] channel``) is where Approve publishes it; ``client``
    defaults to a `SlackClient` from the environment.
    """
    from rebalance.history import Approval, utc_now
    from rebalance.publish import PublishResult, content_hash, plan_key
    from rebalance.publish.protocol import target_channel

    say = log or (lambda _line: None)
    approval_channel = _channel_id(config.slack.approval_channel, "slack.approval_channel")
    target = target_channel(config, channel)
    key = plan_key(plan.city, plan.local(plan.shift_start))
    chash = content_hash(plan)
    pending = Approval(
        plan_key=key,
        content_hash=chash,
        city=plan.city,
        shift_start=plan.local(plan.shift_start).isoformat(),
        run_id=run_id,
        plan_id=plan.plan_id,
        plan_dir=str(Path(plan_dir).absolute()),
        channel=approval_channel,
        target_channel=target,
        ts=None,
        status="pending",
        requested_at=utc_now(),
    )
    tz = config.city.timezone
    text, blocks = approval_blocks(plan, pending, timezone=tz)
    payload = {
        "channel": approval_channel,
        "text": text,
        "blocks": blocks,
        "metadata": _metadata(key, chash, plan.plan_id),
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if dry_run:
        return PublishResult("dry-run", approval_channel, None, key, chash, 0, [payload])

    existing = history.approval(key, chash)
    if existing is not None and existing.ts and _current(history, existing, target):
        action = "approved" if existing.status == "approved" else "approval-pending"
        say(
            f"approval: {key} is already up for approval in {approval_channel} "
            f"(ts {existing.ts}, {existing.status}); nothing posted"
        )
        return PublishResult(action, approval_channel, existing.ts, key, chash, 0, [payload])
    # Not up, or up before and since superseded, or approved before but another version
    # is in the channel now (a restaurant closed, then opened again): a new request.
    # Only a message posted after the last request of this version is adopted.
    after = existing.ts if existing is not None else None

    from rebalance.slack import SlackCallError

    if client is None:
        from rebalance.slack import SlackClient

        client = SlackClient.from_env(log=log)
    try:
        ts = _in_channel(
            client,
            approval_channel,
            lambda: _find(client, approval_channel, key, chash, plan, after=after),
            say,
        )
        if ts is not None:
            say(f"approval: found the unrecorded request {ts} in {approval_channel}; adopting it")
        else:
            ts, adopted = _post_request(
                client,
                payload,
                lambda: _find(client, approval_channel, key, chash, plan, after=after),
                say,
            )
            if adopted:
                say(f"approval: the request was stored (ts {ts}); adopting it")
            else:
                say(f"approval: {key} posted to {approval_channel} for approval (ts {ts})")
        history.save_approval(_replace(pending, ts=ts))
        _supersede_older(client, history, key, chash, ts, approval_channel, tz, say)
    except SlackCallError as exc:
        from rebalance.errors import PLAN_SAVED, PublishError
        from rebalance.publish.protocol import bot_name, failure

        # the publisher's wording: the bot to invite, the token to check, when Slack
        # allows the next attempt (this said "Slack answered channel_not_found", and to
        # run again, which failed the same way until the bot was invited)
        msg, hint = failure(
            exc,
            client,
            f"channel {approval_channel}",
            bot=lambda: bot_name(client),
            channel_key="[slack] approval_channel",
        )
        raise PublishError(
            client.scrub(f"posting the plan for approval to {approval_channel} failed: {msg}"),
            hint=client.scrub(
                f"{PLAN_SAVED} {hint.replace('it never posts the plan twice', 'it never posts the request twice')}"
            ),
            slack_error=exc.error or exc.kind.value,
        ) from None
    return PublishResult("approval-requested", approval_channel, ts, key, chash, 0, [payload])


def _in_channel(
    client: SlackApi, channel: str, call: Callable[[], T], say: Callable[[str], None]
) -> T:
    """``call()``; when the bot is not in the channel, join it once (a public channel,
    as the publisher does) and call again. The approval channel was the one place
    where a public channel the bot had not joined failed the run with exit 5."""
    from rebalance.slack import SlackCallError

    try:
        return call()
    except SlackCallError as exc:
        if exc.error not in {"not_in_channel", "channel_not_found"}:
            raise
        try:
            client.join(channel)
        except SlackCallError:
            raise exc from None  # private, or no channels:join scope: invite the bot
        say(f"approval: joined {channel}")
        return call()


def _post_request(
    client: SlackApi,
    payload: dict[str, Any],
    find: Callable[[], str | None],
    say: Callable[[str], None],
) -> tuple[str, bool]:
    """Post the request; after a failure that may have been stored anyway (a timeout, a
    5xx), look for it in the channel over the window in which Slack may still store it,
    and post once more only if it never shows up (as the publisher does its parent).
    Without this a request whose answer timed out stood in the channel while `run`
    exited 5, and a retry while Slack was still storing it put up a second one.
    Returns (ts, adopted)."""
    from rebalance.publish.protocol import await_stored
    from rebalance.slack import SlackCallError

    last: SlackCallError | None = None
    for _ in range(2):
        try:
            return str(client.post_message(**payload)["ts"]), False
        except SlackCallError as exc:
            if not exc.ambiguous:
                raise
            last = exc
            say(f"approval: {exc.describe()}; it may have been stored, looking before retrying")
            found = await_stored(client, find)
            if found is not None:
                return found, True
    assert last is not None
    raise last


def _replace(approval: Approval, **changes: Any) -> Approval:
    from dataclasses import replace

    return replace(approval, **changes)


def _current(history: History, approval: Approval, target: str) -> bool:
    """Whether this recorded request still stands: undecided or held, or approved with
    its version still the one in the ``target`` channel."""
    if approval.status in {"pending", "held"}:
        # a request whose plan files are gone cannot be approved (`mark_unpublishable`):
        # the same version planned again is put up again, not "still awaiting approval"
        return has_plan(approval.plan_dir)
    if approval.status == "approving":
        return True
    if approval.status != "approved":
        return False  # superseded
    shown = history.publication(approval.plan_key, target)
    return shown is not None and shown.content_hash == approval.content_hash


def _find(
    client: SlackApi,
    channel: str,
    key: str,
    chash: str,
    plan: Plan,
    *,
    after: str | None = None,
) -> str | None:
    """The ts of a request for this plan version already in the channel (a crash
    between posting and recording), or None; with ``after`` (a message ts), only a
    request posted later (that one was recorded, and decided or superseded)."""
    import pandas as pd

    window = pd.Timedelta(hours=SEARCH_HOURS)
    oldest = min(plan.shift_start, pd.Timestamp.now(tz="UTC")) - window
    for message in client.history(channel, oldest=float(oldest.timestamp())):
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        # Slack's ts order messages as numbers (as `rebalance.publish` sorts parents;
        # a double tells microseconds apart at today's epoch)
        if after is not None and float(message.get("ts") or 0) <= float(after):
            continue
        if (
            meta.get("event_type") == APPROVAL_EVENT_TYPE
            and payload.get("plan_key") == key
            and payload.get("content_hash") == chash
        ):
            return str(message["ts"])
    return None


def _supersede_older(
    client: SlackApi,
    history: History,
    key: str,
    chash: str,
    ts: str,
    channel: str,
    timezone: str,
    say: Callable[[str], None],
) -> None:
    """Mark older undecided versions of this shift's plan superseded and point their
    messages to the new one."""
    from rebalance.plan import read_plan
    from rebalance.slack import SlackCallError

    link = permalink(client, channel, ts)
    for older in history.approvals(key):
        if older.content_hash == chash or older.status not in {"pending", "held"}:
            continue
        changed = history.transition_approval(
            key, older.content_hash, from_states=("pending", "held"), status="superseded"
        )
        if changed is None:
            continue  # decided meanwhile
        say(f"approval: the request {older.ts} is superseded by {ts}")
        try:
            try:
                old_plan = read_plan(older.plan_dir)
            except Exception:  # its folder is gone: a short text edit still removes the buttons
                if changed.ts:
                    client.update_message(
                        channel=changed.channel,
                        ts=changed.ts,
                        text="Superseded by a newer plan for this shift. Not published.",
                        blocks=[
                            context("Superseded by a newer plan for this shift. Not published.")
                        ],
                    )
                continue
            edit_approval(client, old_plan, changed, timezone=timezone, newer_link=link)
        except SlackCallError as exc:
            if exc.error != "message_not_found":
                raise
            # Someone deleted the old request: no buttons left to take away. The new
            # request is up and recorded; this is no failure of the run.
            say(f"approval: the request {older.ts} was deleted from the channel; nothing to mark")
