"""The exactly-once publisher: one parent message per (city, shift, channel), kept
current, never posted twice (CONTRACT section 5), and its catalogue of Slack errors.

Exactly once
    The history store records (plan key, channel) -> (ts, content hash, snapshot).
    With a record: same content -> nothing is posted; new content -> ``chat.update``
    of the parent and one thread reply saying what changed (with the new files).
    Without a record, the channel is searched first for a parent carrying this plan
    key in its metadata (a crash between posting and recording), and it is adopted.
    After an ambiguous failure of ``chat.postMessage`` (timeout, reset, 5xx) the
    channel is searched again before anything is re-sent. Thread replies carry
    metadata too, and the file message a marker in its titles, so an interrupted
    thread is finished on the next run without duplicates.

Races (the channel's metadata is the truth, not any one history store)
    Slack may store a post after the client gave up on it (a late store), and two
    publishers with different history stores (so different run locks) may both find
    nothing and post. So: after an ambiguous failure the channel is searched
    repeatedly over `LATE_STORE_SECONDS` before anything is re-sent; and after every
    post of a parent the channel is searched again: of several parents of one plan
    key the oldest is kept and the others deleted (or, if Slack refuses, marked as
    duplicates so no search finds them). Every publisher applies the same rule, so
    they converge on one parent. A publisher whose parent lost that race leaves the
    thread to the winner (its next run completes whatever is missing). One that finds
    a parent of its own version posted moments ago (`HANDOFF_SECONDS`) by someone else
    waits while that thread is still being written, then writes only what is missing.
    Plan keys compare as instants (`same_plan_key`), and the search reaches back to
    `PUBLISH_AHEAD_DAYS` before the shift: a plan is never published earlier than
    that, so its parent is always inside the window.

Every failure is a `PublishError` (exit 5) saying why and how to retry. The plan comes
in memory; the client is any `SlackApi` (`rebalance.slack.SlackClient` by default).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pandas as pd

from rebalance.errors import PLAN_SAVED, ConfigError, Issue, PublishError
from rebalance.plan import Plan

from .blocks import (
    FILES_COMMENT,
    REVISED_FILES,
    as_int,
    build_files,
    build_messages,
    context_block,
    files_payload,
    metadata,
    zone_names,
)
from .changes import describe_diff, mark_revised, revision_line, snapshot_diff
from .identity import (
    DUPLICATE_EVENT_TYPE,
    EVENT_TYPE,
    PART_EVENT_TYPE,
    content_hash,
    earlier_plan_keys,
    plan_key,
    snapshot,
    utc_plan_key,
)

if TYPE_CHECKING:
    from rebalance.config import Config
    from rebalance.history import History, Publication
    from rebalance.slack import SlackCallError

__all__ = ["PublishResult", "SlackApi", "find_parents", "joining", "publish", "target_channel"]

#: A plan is published at most this many days before its shift starts, so the
#: channel is searched from that far before the shift for an unrecorded parent.
PUBLISH_AHEAD_DAYS = 14
#: After an ambiguous failure of a post, how long Slack may still store it: the channel
#: is searched again over this window (at least the client's timeout) before re-posting.
LATE_STORE_SECONDS = 10.0

_T = TypeVar("_T")

#: A thread as `Publisher._thread_state` reads it: part -> (ts, content hash), and
#: whether this version's files are there.
ThreadState = tuple[dict[int, tuple[str, str | None]], bool]
#: The marker `build_files` puts at the end of a file's title: ``[<10 hex>.<version>]``.
_MARKED = re.compile(r"\[[0-9a-f]{10}\.\d+\]$")
#: An unrecorded parent of this very version posted less than this long ago may still be
#: getting its thread from its poster (another publisher, with another history store):
#: the thread is watched until it is complete, or until it has not changed for
#: `STALL_SECONDS` (its poster died: a crash between posting and recording), before
#: anything missing is written. Without the wait both wrote every part and the files.
HANDOFF_SECONDS = 60.0
STALL_SECONDS = 3.0


@dataclass(frozen=True)
class PublishResult:
    """What `publish` did.

    ``action``: ``posted`` (new parent), ``updated`` (parent edited in place, changes
    in its thread), ``unchanged`` (same plan already there; at most a missing thread
    part finished), ``adopted`` (an unrecorded parent found in the channel and
    recorded), ``not shown`` (``shown_only``, and the history does not record this
    version as the message: nothing done) or ``dry-run``. ``payloads``: the chat.postMessage payloads, parent
    first, then thread parts, then the files upload (``file_uploads`` without content).
    """

    action: str
    channel: str
    ts: str | None
    plan_key: str
    content_hash: str
    thread_replies: int
    payloads: list[dict[str, Any]] = field(default_factory=list)


class SlackApi(Protocol):
    """What the publisher needs from a Slack client: `rebalance.slack.SlackClient` over
    HTTP, or any stand-in (an in-process fake in tests). Failures are raised as
    `rebalance.slack.SlackCallError`."""

    base_url: str
    timeout: float

    def auth_test(self) -> dict[str, Any]: ...
    def join(self, channel: str) -> dict[str, Any]: ...
    def post_message(self, **payload: Any) -> dict[str, Any]: ...
    def update_message(self, **payload: Any) -> dict[str, Any]: ...
    def delete_message(self, *, channel: str, ts: str) -> dict[str, Any]: ...
    def history(self, channel: str, *, oldest: float) -> Iterable[dict[str, Any]]: ...
    def replies(self, channel: str, ts: str) -> Iterable[dict[str, Any]]: ...
    def upload_files(
        self,
        *,
        channel: str,
        thread_ts: str,
        files: list[dict[str, Any]],
        initial_comment: str | None = None,
    ) -> dict[str, Any]: ...
    def wait(self, seconds: float) -> None: ...
    def scrub(self, text: str) -> str: ...


def target_channel(config: Config, channel: str | None = None, *, dry_run: bool = False) -> str:
    """The channel ID to publish to: ``channel`` (``--channel``), else ``[slack] channel``.

    A dry run needs none ("" then). Otherwise raises `ConfigError` naming the key when
    there is none or it is not a channel ID (`run` checks it before planning).
    """
    target = (channel or config.slack.channel or "").strip()
    if not target and dry_run:
        return ""
    source = str(config.source) if config.source else None
    if not target:
        raise ConfigError(
            Issue(
                "no Slack channel to publish to",
                file=source,
                key="slack.channel",
                valid="a channel ID such as 'C0123ABCD' in [slack] channel, or --channel "
                "(a dry run needs none)",
            ),
            title="invalid configuration",
        )
    from rebalance.config import is_channel_id

    if not is_channel_id(target):
        raise ConfigError(
            Issue(
                "not a Slack channel ID (a channel is addressed by its ID, not its name)",
                file=None if channel else source,
                key="slack.channel" if not channel else "--channel",
                value=target,
                valid="an ID such as 'C0123ABCD' (channel details, bottom of the About tab)",
            ),
            title="invalid configuration",
        )
    return target


def _shown_hash(message: dict[str, Any]) -> str | None:
    """The content hash a parent message carries in its metadata (None: none)."""
    return ((message.get("metadata") or {}).get("event_payload") or {}).get("content_hash")


def await_stored(client: SlackApi, find: Callable[[], _T]) -> _T | None:
    """``find()`` until it finds something (not None/False), or the window in which
    Slack may still store a post the client gave up on has passed: after an ambiguous
    failure of a post, before it is sent again (the publisher's parent and thread
    parts, the app's approval requests)."""
    window = max(LATE_STORE_SECONDS, client.timeout)
    waited, step = 0.0, min(1.0, client.timeout)
    while True:
        client.wait(step)
        waited += step
        found = find()
        if found or waited >= window:
            return found or None
        step = min(step * 2, window - waited)


def publish(
    plan: Plan,
    *,
    config: Config,
    channel: str | None = None,
    dry_run: bool = False,
    history: History | None = None,
    client: SlackApi | None = None,
    log: Callable[[str], None] | None = None,
    shown_only: bool = False,
    shown: Plan | None = None,
) -> PublishResult:
    """Post ``plan`` to Slack once, or bring its message up to date.

    ``shown``: the plan the shift's message is known to show where the history store
    does not record it (`rebalance run` found it in a run folder after the store was
    moved aside): a message found showing it is revised with the changes itemised, as
    if the store had recorded it.

    ``shown_only``: only finish or check the message the history records as showing
    this very version (its thread, a copy stored late); never post, adopt or revise
    one. A run does so for an earlier shift's message (`rebalance.runner`), from a plan
    folder that may not be the version shown.

    ``channel`` defaults to ``[slack] channel`` (neither: `ConfigError` on
    ``slack.channel``, except for a dry run, whose payloads then carry an empty
    channel). ``dry_run`` posts nothing, needs no token, writes no history.
    ``history`` defaults to the store at ``config.history_path``; ``client`` to a
    `SlackClient` from the environment (SLACK_BOT_TOKEN, SLACK_API_URL). Raises
    `PublishError` (exit 5) when Slack refuses or cannot be reached.
    """
    target = target_channel(config, channel, dry_run=dry_run)
    key = plan_key(plan.city, plan.local(plan.shift_start))
    chash = content_hash(plan)
    messages = build_messages(plan, channel=target)
    if dry_run:
        files = build_files(plan, marker=f"{chash[:10]}.1")
        payloads = [*messages, files_payload(target, files, FILES_COMMENT)]
        return PublishResult("dry-run", target, None, key, chash, 0, payloads)

    ahead = plan.shift_start - pd.Timestamp.now(tz="UTC")
    if ahead > pd.Timedelta(days=PUBLISH_AHEAD_DAYS):
        raise PublishError(
            f"the shift starts in {ahead.days} days: plans are published at most "
            f"{PUBLISH_AHEAD_DAYS} days ahead (the channel is searched that far back so a "
            "shift is never posted twice); nothing was posted",
            hint=f"{PLAN_SAVED} Publish it again within {PUBLISH_AHEAD_DAYS} days of the shift.",
        )
    if client is None:
        from rebalance.slack import SlackClient

        client = SlackClient.from_env(log=log)
    store = history
    if store is None:
        from rebalance.history import History

        store = History(config.history_path)
    try:
        others = list(_shifts(plan, target, key, store))
        if shown is not None and not shown_only:
            others += _shown_elsewhere(shown, target, key, client, others, log)
        line = _successor_line(plan, others)
        if line is not None:
            from .changes import mark_superseded

            marked = mark_superseded(messages[0], line)
            messages = [{**messages[0], **(marked or {})}, *messages[1:]]
        result = _Publisher(
            plan,
            target,
            key,
            chash,
            messages,
            client,
            store,
            log,
            shown_only=shown_only,
            shown=shown,
        ).run()
        if result.action == "posted":
            try:
                _supersede(plan, target, others, client, store, log)
            except Exception as exc:  # posted: nothing after it may turn that into a failure
                if log is not None:
                    log(f"publish: could not mark the previous shift's message superseded: {exc}")
        return result
    finally:
        if history is None:
            store.close()


def find_parents(
    client: SlackApi,
    channel: str,
    keys: Iterable[str],
    *,
    oldest: float,
    call: Callable[[Callable[[], Any]], Any] = lambda fn: fn(),
) -> list[dict[str, Any]]:
    """The top-level messages of ``channel`` posted since ``oldest`` (epoch seconds) that
    are parents of one of the plan ``keys`` (as written, or naming the same shift with
    another offset, `same_plan_key`), oldest first: one conversations.history listing,
    whatever the number of keys. ``call`` runs the request (the publisher's joins the
    channel when the bot is not in it). The publisher's search for its parent, and a
    run's for the plan its shift's message shows when the history store lost it."""
    wanted = set(keys)
    instants = {utc_plan_key(key) for key in wanted} - {None}
    found = []
    for message in call(lambda: list(client.history(channel, oldest=oldest))):
        meta = message.get("metadata") or {}
        key = (meta.get("event_payload") or {}).get("plan_key")
        if (
            meta.get("event_type") == EVENT_TYPE
            and isinstance(key, str)
            and (key in wanted or utc_plan_key(key) in instants)
        ):
            found.append(dict(message))
    return sorted(found, key=lambda m: float(m["ts"]))


def joining(client: SlackApi, channel: str) -> Callable[[Callable[[], _T]], _T]:
    """How to make a call on ``channel``: as it is, and, when Slack answers that the
    bot is not in it, once more after joining it (the publisher's parents, found
    before anything is posted: the bot joins a public channel on its first post)."""
    from rebalance.slack import SlackCallError

    def call(fn: Callable[[], _T]) -> _T:
        try:
            return fn()
        except SlackCallError as exc:
            if exc.error != "not_in_channel":
                raise
            client.join(channel)
            return fn()

    return call


def shown_parent(
    client: SlackApi,
    channel: str,
    ts: str,
    call: Callable[[Callable[[], Any]], Any] = lambda fn: fn(),
) -> dict[str, Any] | None:
    """The parent ``ts`` as Slack shows it now (with its metadata), or None when it was
    deleted (gone, or a tombstone left by its thread); ``call`` runs the request (the
    publisher's joins the channel when the bot is not in it)."""
    import itertools

    from rebalance.slack import SlackCallError

    try:
        first = call(lambda: list(itertools.islice(client.replies(channel, ts), 1)))
    except SlackCallError as exc:
        if exc.error in {"thread_not_found", "message_not_found"}:
            return None
        raise
    if not first or str(first[0].get("ts")) != ts or first[0].get("subtype") == "tombstone":
        return None
    return first[0]


def _shifts(plan: Plan, channel: str, key: str, history: History) -> Iterator[tuple[Any, ...]]:
    """This city's other recorded parents in ``channel``: (shift start, shift end,
    publication)."""
    for pub in history.publications(channel=channel, city=plan.city):
        if pub.plan_key == key:
            continue
        try:
            begun = pd.Timestamp(pub.snapshot["shift_start"])
            ends = pd.Timestamp(pub.snapshot["shift_end"])
        except (KeyError, TypeError, ValueError):
            continue
        yield begun, ends, pub


def _shown_elsewhere(
    shown: Plan,
    channel: str,
    key: str,
    client: SlackApi,
    others: list[tuple[Any, ...]],
    log: Callable[[str], None] | None,
) -> list[tuple[Any, ...]]:
    """The parent of ``shown``'s shift, as `_shifts` gives the recorded ones, when it is
    another shift than this plan's and the store does not record it: a run found its
    plan in force from that message, the store having been moved aside. A new parent
    then marks it superseded like a recorded one (it read as the plan in force beside
    its successor). One conversations.history; nothing when Slack fails (logged)."""
    from rebalance.history import Publication
    from rebalance.slack import SlackCallError

    from .identity import same_plan_key

    local = shown.local(shown.shift_start)
    shown_key = plan_key(shown.city, local)
    if same_plan_key(shown_key, key) or any(
        same_plan_key(pub.plan_key, shown_key) for *_, pub in others
    ):
        return []
    oldest = shown.shift_start - pd.Timedelta(days=PUBLISH_AHEAD_DAYS)
    try:
        found = find_parents(
            client,
            channel,
            (shown_key, *earlier_plan_keys(shown.city, local)),
            oldest=float(oldest.timestamp()),
            call=joining(client, channel),
        )
    except SlackCallError as exc:
        if log is not None:
            log(f"publish: could not look for the message of {shown_key}: {exc.describe()}")
        return []
    if not found:
        return []
    pub = Publication(
        plan_key=shown_key,
        channel=channel,
        city=shown.city,
        shift_start=local.isoformat(),
        ts=str(found[0]["ts"]),
        content_hash=_shown_hash(found[0]) or "",
        plan_id=shown.plan_id,
        snapshot={
            "shift_start": local.isoformat(),
            "shift_end": shown.local(shown.shift_end).isoformat(),
        },
    )
    return [(shown.shift_start, shown.shift_end, pub)]


def _successor_line(plan: Plan, others: list[tuple[Any, ...]]) -> str | None:
    """What this plan's parent says when a later shift starting while it runs was
    posted already (`rebalance publish` of an earlier plan, or a retry of it): by which
    plan it is superseded. Its every version says so: a revision of the older shift
    wrote its message anew without the line, and it read as the plan in force again."""
    from rebalance.views.wording import window_text

    start, end = plan.shift_start, plan.shift_end
    later = [(b, e) for b, e, _ in others if start < b < end]
    if not later:
        return None
    begun, ends = min(later)
    return f"by the plan for {window_text(plan.local(begun), plan.local(ends), year=False)}"


def _supersede(
    plan: Plan,
    channel: str,
    others: list[tuple[Any, ...]],
    client: SlackApi,
    history: History,
    log: Callable[[str], None] | None,
) -> None:
    """Say on the parent of this city's previous shift in ``channel`` (the latest one
    still under way when this plan's shift starts) that this plan supersedes it. With
    `rebalance run` every 15 minutes each run posts a shift of its own, and every older
    parent read as the plan in force. Then on the one before it, and so on, until one
    says so already: each parent is marked when its successor is posted, but a run
    killed after posting never marked its predecessor (audit: 19:00 still read as the
    plan in force beside 20:00). Usually two looks: the previous parent, and the one
    before it, marked already.

    Under each shift's run lock, taken without waiting (held: a run, `publish` or an
    approval is writing that message now, and its own version then carries the line,
    `_successor_line`): read and written back whole, the message must not be another
    version by the time it is written (the old plan was put back over a revision).
    Best effort: a failure is logged and the publication stands."""
    from rebalance.views.wording import window_text

    start = plan.shift_start
    older = sorted(
        ((b, pub) for b, e, pub in others if b < start < e), key=lambda bp: bp[0], reverse=True
    )
    window = window_text(plan.local(start), plan.local(plan.shift_end), year=False)
    for begun, pub in older:
        if not _mark_superseded(pub, begun, channel, window, client, history, log):
            return


def _mark_superseded(
    pub: Any,
    begun: pd.Timestamp,
    channel: str,
    window: str,
    client: SlackApi,
    history: History,
    log: Callable[[str], None] | None,
) -> bool:
    """Mark one older parent (`_supersede`); whether the one before it is to be looked
    at: False when this one said so already, is gone, or could not be written."""
    from rebalance.errors import LockHeldError
    from rebalance.lock import RunLock
    from rebalance.paths import lock_path
    from rebalance.slack import SlackCallError

    from .changes import mark_superseded

    def say(message: str) -> bool:
        if log is not None:
            log(f"publish: {message}")
        return False

    lock = RunLock(lock_path(history.path, pub.city, begun), what=pub.plan_key)
    try:
        lock.acquire()
    except LockHeldError:
        return say(f"the message of {pub.plan_key} is being written by another process; not marked")
    try:
        shown = shown_parent(client, channel, pub.ts)
        if shown is None:
            return False  # deleted by hand
        marked = mark_superseded(shown, f"by the plan for {window}, posted below")
        if marked is None:
            return False  # marked when its successor was posted: so were the older ones
        payload: dict[str, Any] = {"channel": channel, "ts": pub.ts, **marked}
        if shown.get("metadata"):  # kept: the publisher finds its parents by it
            payload["metadata"] = shown["metadata"]
        client.update_message(**payload)
        say(f"the message of {pub.plan_key} ({pub.ts}) says this plan supersedes it")
        return True
    except SlackCallError as exc:
        return say(f"could not mark the message of {pub.plan_key} superseded: {exc}")
    finally:
        lock.release()


class _Publisher:
    """One publication run: the exactly-once logic of the module docstring."""

    def __init__(
        self,
        plan: Plan,
        channel: str,
        key: str,
        chash: str,
        messages: list[dict[str, Any]],
        client: SlackApi,
        history: History,
        log: Callable[[str], None] | None,
        *,
        shown_only: bool = False,
        shown: Plan | None = None,
    ):
        self.plan = plan
        self.shown = shown
        self.channel = channel
        self.key = key
        self.hash = chash
        self.parent = messages[0]
        self.parts = messages[1:]
        self.client = client
        self.history = history
        self._log = log
        self.snapshot = snapshot(plan)
        #: This plan's key, then the keys the same shift had under earlier rules.
        self.keys = (key, *earlier_plan_keys(plan.city, plan.local(plan.shift_start)))
        self.replies_posted = 0
        self.version = 1
        self._joined = False
        self._join_error: str | None = None
        self._bot: str | None = None
        #: False when a racing publisher's parent was kept instead of ours: its thread
        #: is that publisher's to write.
        self._owns_thread = True
        #: The parent this run put up or changed while its thread is not yet complete:
        #: a failure now leaves a message whose thread (parts, files) is missing.
        self._thread_pending: str | None = None
        #: Set when a parent was posted again after an ambiguous failure.
        self._verify_later = False
        #: Set when another publisher's parent was kept and brought to this content.
        self._rewrote = False
        #: `publish`'s ``shown_only``: nothing but this recorded version's message.
        self.shown_only = shown_only

    def log(self, message: str) -> None:
        if self._log is not None:
            self._log(message)

    def result(self, action: str, ts: str | None) -> PublishResult:
        files = build_files(self.plan, marker=self.marker)
        payloads = [self.parent, *self.parts, files_payload(self.channel, files, FILES_COMMENT)]
        return PublishResult(
            action, self.channel, ts, self.key, self.hash, self.replies_posted, payloads
        )

    @property
    def marker(self) -> str:
        """Put in the file titles: finds this version's upload in the thread again."""
        return f"{self.hash[:10]}.{self.version}"

    # ------------------------------------------------------------- the flow
    def run(self) -> PublishResult:
        from rebalance.slack import SlackCallError

        try:
            return self._run()
        except SlackCallError as exc:
            raise self.error(exc) from None

    def _publication(self) -> Publication | None:
        """The history's record of this shift's message in the channel, under its key
        or a key it had before (recorded anew under the current key once touched)."""
        for key in self.keys:
            record = self.history.publication(key, self.channel)
            if record is not None:
                return record
        return None

    def _run(self) -> PublishResult:
        record = self._publication()
        if self.shown_only and (record is None or record.content_hash != self.hash):
            ts = None if record is None else record.ts
            return PublishResult("not shown", self.channel, ts, self.key, self.hash, 0)
        if record is not None and record.snapshot.get("verify_parent"):
            record = self._verify_recorded(record)
        if record is not None:
            self.version = int(record.snapshot.get("version") or 1)
            if record.content_hash == self.hash:
                thread = record.snapshot.get("thread") or {}
                if thread.get("complete"):
                    return self._unchanged(record)
                self.log("publish: parent is current; finishing its thread")
                self._thread_pending = record.ts
                self._finish_thread(record.ts, note=thread.get("note"), fresh=False)
                return self.result("unchanged", record.ts)
            return self._revise(record)
        self.log(f"publish: no record of {self.key} in {self.channel}; searching the channel first")
        found = self._find_parent()
        if found is not None:
            return self._adopt(found)
        return self._post_anew()

    def _post_anew(self) -> PublishResult:
        """Post a parent (none is recorded, or the recorded one was deleted), record it,
        and write its thread, unless another publisher's parent was kept instead."""
        self.version = 1
        ts, adopted = self._post_parent()
        self._record(ts, complete=False, note=None)
        if not self._owns_thread:
            self.log(f"publish: another publisher posted {ts} first; its thread is its own")
            return self.result("adopted", ts)
        self._finish_thread(ts, note=None, fresh=not adopted)
        return self.result("adopted" if adopted else "posted", ts)

    def _with_thread(self, ts: str, note: str) -> PublishResult:
        """After the parent ``ts`` was brought to this version: record it, then its thread
        (the overflow parts, the files with ``note``)."""
        self._record(ts, complete=False, note=note)
        self._finish_thread(ts, note=note, fresh=False)
        return self.result("updated", ts)

    def _verify_recorded(self, record: Publication) -> Publication | None:
        """The recorded parent and its thread, checked once against the channel on the
        run after one that posted: a parent, a thread part or an upload that an earlier
        attempt (ours after a timeout, or a run killed before it recorded its post) got
        stored later than any search could wait for is removed, the oldest copy kept
        (and the record moved to it)."""
        parents = self._find_parents()
        self.log(f"publish: checking {self.key} for a copy stored late ({len(parents)} found)")
        if not parents:
            return record
        keep = parents[0]
        self._remove_duplicates(keep, parents[1:])
        listed, removed = self._dedupe_thread(str(keep["ts"]))
        from dataclasses import replace

        # a thread Slack would not list is looked at again on the next run
        snap = {**record.snapshot, "verify_parent": not listed}
        if removed:
            # the copy kept of a part may show an older version: this run writes the
            # thread again (parts brought to this version; files only if missing)
            note = (record.snapshot.get("thread") or {}).get("note")
            snap["thread"] = {"complete": False, "note": note}
        if str(keep["ts"]) != record.ts:
            their = _shown_hash(keep)
            snap["thread"] = {"complete": False, "note": None}
            record = replace(record, ts=str(keep["ts"]), content_hash=str(their or ""))
        return self.history.save_publication(replace(record, snapshot=snap))

    def _unchanged(self, record: Publication) -> PublishResult:
        """This version is recorded as shown, thread and all: one look at the message
        itself (the record is this store's word, not Slack's). Deleted by someone: a
        new parent is posted (a cron re-run said "unchanged" to an empty channel).
        Showing another version (a publisher with another history store revised it):
        brought back to this one, thread and files too, as a revision."""
        shown = self._shown_parent(record.ts)
        if shown is None:
            self.log(f"publish: message {record.ts} is gone from {self.channel}; posting a new one")
            return self._post_anew()
        their = _shown_hash(shown)
        if their is not None and their != self.hash:
            self.log(
                f"publish: {record.ts} shows another version of the plan (another publisher's); "
                "bringing it back to this one"
            )
            self.version += 1
            self._update_parent(record.ts)
            return self._with_thread(
                record.ts,
                "*Plan revised.* Another publisher had put another version of this plan up; "
                "the message above and the files below are this one again.",
            )
        self.log(f"publish: {self.key} already in {self.channel} (ts {record.ts}), unchanged")
        return self.result("unchanged", record.ts)

    def _shown_parent(self, ts: str) -> dict[str, Any] | None:
        """`shown_parent`, the bot joining the channel if it is not in it."""
        return shown_parent(self.client, self.channel, ts, self._channel_call)

    def _revise(self, record: Publication) -> PublishResult:
        self.version += 1
        self.log(f"publish: plan changed; updating the message {record.ts} in place")
        return self._revised(record.ts, record.snapshot)

    def _revised(self, ts: str, before: dict[str, Any]) -> PublishResult:
        """Parent ``ts``, showing the plan of snapshot ``before``, revised to this plan:
        its revision line, then a thread reply itemising the changes, with the files."""
        from rebalance.slack import SlackCallError

        changes = snapshot_diff(before, self.snapshot, plan=self.plan)
        now = pd.Timestamp.now(tz="UTC").tz_convert(self.plan.timezone)
        revised = mark_revised(self.parent, revision_line(changes, now))
        try:
            self._update_part(ts, revised)
        except SlackCallError as exc:
            if exc.error != "message_not_found":
                raise
            # Deleted by someone: post a fresh parent and let it replace the record.
            self.log(f"publish: message {ts} is gone from {self.channel}; posting a new one")
            return self._post_anew()
        self.parent = revised
        note = describe_diff(changes, names=zone_names(self.plan)) + "\n" + REVISED_FILES
        return self._with_thread(ts, note)

    def _adopt(self, found: dict[str, Any]) -> PublishResult:
        ts = str(found["ts"])
        their_hash = _shown_hash(found)
        if their_hash == self.hash:
            self.log(
                f"publish: found this plan's message {ts} in {self.channel} (unrecorded); adopting it"
            )
            # the version its thread's files are of: a parent revised by a publisher with
            # another history store is at 2 or more, and its files marked so (read as 1,
            # they were uploaded again under the revision note: an audit)
            # the thread read once here, not once for the version, once to watch its
            # poster and once more to finish it (unless its poster is still at it)
            thread = self._replies(ts)
            self.version = self._shown_version(thread)
            self._record(ts, complete=False, note=None)
            state = self._await_poster(ts, self._thread_state(ts, thread))
            self._finish_thread(ts, note=None, fresh=False, state=state)
            return self.result("adopted", ts)
        self.version = 2
        if self.shown is not None and their_hash == content_hash(self.shown):
            self.log(
                f"publish: found the message {ts} of plan {self.shown.plan_id} (unrecorded, "
                "found from a run folder); revising it in place"
            )
            return self._revised(ts, snapshot(self.shown))
        self.log(f"publish: found an older version {ts} (unrecorded); updating it in place")
        self._update_parent(ts)
        return self._with_thread(
            ts,
            "*Plan revised.* The previous version was not recorded in this history store, "
            "so the changes cannot be itemised; the message above and the files below are current.",
        )

    def _await_poster(self, ts: str, state: ThreadState) -> ThreadState | None:
        """Watch the thread of parent ``ts`` (this version, posted by someone else) while
        it may still be written: posted less than `HANDOFF_SECONDS` ago, not complete,
        and changed within the last `STALL_SECONDS`. ``state``: the thread as just read;
        returned when it was not watched (None: it was, and must be read again)."""
        import time

        try:
            posted = float(ts)
        except ValueError:
            return state
        last, still = None, time.monotonic()
        while time.time() - posted < HANDOFF_SECONDS:
            if last is not None:
                state = self._thread_state(ts)
            parts, files = state
            if files and all(
                parts.get(i, ("", None))[1] == self.hash for i in range(1, len(self.parts) + 1)
            ):
                return state if last is None else None
            if last is None:
                self.log(
                    f"publish: {ts} was posted {time.time() - posted:.0f} s ago and its thread "
                    "is not complete; watching it while its poster may still be writing it"
                )
            if state != last:
                last, still = state, time.monotonic()
            elif time.monotonic() - still >= STALL_SECONDS:
                return None  # nobody is writing it
            self.client.wait(0.5)
        return state if last is None else None

    # ------------------------------------------------------------ the parts
    def _update_parent(self, ts: str) -> None:
        """chat.update of the parent to this plan's content."""
        self._update_part(ts, self.parent)

    def _record(self, ts: str, *, complete: bool, note: str | None) -> None:
        from rebalance.history import Publication

        snap = dict(self.snapshot)
        snap["version"] = self.version
        snap["thread"] = {"complete": complete, "note": note}
        # Re-posted after an ambiguous failure: the first attempt could still be stored
        # later than Slack should; the next run looks once more.
        snap["verify_parent"] = self._verify_later
        self._thread_pending = None if complete else ts
        self.history.save_publication(
            Publication(
                plan_key=self.key,
                channel=self.channel,
                city=self.plan.city,
                shift_start=self.plan.local(self.plan.shift_start).isoformat(),
                ts=ts,
                content_hash=self.hash,
                plan_id=self.plan.plan_id,
                snapshot=snap,
            )
        )

    def _search_oldest(self) -> float:
        # No parent of this shift can be older than this: `publish` refuses earlier.
        start = self.plan.shift_start - pd.Timedelta(days=PUBLISH_AHEAD_DAYS)
        return float(start.timestamp())

    def _find_parents(self) -> list[dict[str, Any]]:
        """Every top-level message of the channel that is a parent of this plan key,
        oldest first (one, unless a late store or a race posted it twice)."""
        return find_parents(
            self.client,
            self.channel,
            self.keys,
            oldest=self._search_oldest(),
            call=self._channel_call,
        )

    def _find_parent(self) -> dict[str, Any] | None:
        """The parent of this plan key in the channel (the oldest, the others removed)."""
        parents = self._find_parents()
        if not parents:
            return None
        self._remove_duplicates(parents[0], parents[1:])
        return parents[0]

    def _remove_duplicates(self, keep: dict[str, Any], others: list[dict[str, Any]]) -> None:
        """Delete the other parents of this key; mark one as a duplicate if Slack refuses."""
        from rebalance.slack import SlackCallError

        for message in others:
            ts = str(message["ts"])
            try:
                if self._delete(ts):
                    self.log(
                        f"publish: deleted {ts}, a second parent of {self.key} (kept {keep['ts']})"
                    )
            except SlackCallError as exc:
                text = (
                    "(Posted twice by a race between publishers: this copy is outdated; the "
                    "plan is the message posted just before it.)"
                )
                self._update_part(
                    ts,
                    {
                        "channel": self.channel,
                        "text": text,
                        "blocks": [context_block(text)],
                        "metadata": metadata(
                            DUPLICATE_EVENT_TYPE, {"plan_key": self.key, "kept": str(keep["ts"])}
                        ),
                    },
                )
                self.log(f"publish: marked {ts} as a duplicate ({exc.describe()})")

    def _settle(self, own_ts: str) -> tuple[str, bool]:
        """After posting ``own_ts``: the one parent every publisher keeps (the oldest).

        Returns (ts, adopted); adopted when an older parent was kept instead of ours.
        """
        parents = self._find_parents()
        if not any(str(m["ts"]) == own_ts for m in parents):
            parents = sorted([*parents, {"ts": own_ts}], key=lambda m: float(m["ts"]))
        keep = parents[0]
        if len(parents) > 1:
            self._remove_duplicates(keep, parents[1:])
        if str(keep["ts"]) == own_ts:
            return own_ts, False
        their = _shown_hash(keep)
        if their != self.hash:
            self._update_parent(str(keep["ts"]))
            # Its content is now ours, so its thread must be too: left to the first
            # poster, it kept that version's parts and files under this version's message.
            self._rewrote = True
        self.log(f"publish: {keep['ts']} was posted first; keeping it, not {own_ts}")
        return str(keep["ts"]), True

    def _await_late_store(self) -> dict[str, Any] | None:
        """After an ambiguous failure: search until the post shows up or the window
        in which Slack may still store it has passed."""
        return self._await_stored(self._find_parent)

    def _await_stored(self, find: Callable[[], _T]) -> _T | None:
        return await_stored(self.client, find)

    def _post_parent(self) -> tuple[str, bool]:
        """Post the parent; after an ambiguous failure, look for it before trying again.

        Returns (ts, adopted): adopted is true when the failed post turned out stored.
        """
        from rebalance.slack import SlackCallError

        last: SlackCallError | None = None
        for attempt in range(2):
            try:
                response = self._channel_call(lambda: self.client.post_message(**self.parent))
                self.log(f"publish: posted {self.key} to {self.channel} (ts {response['ts']})")
                # a post of a run killed before it recorded anything (or our own first
                # attempt) may still be stored later than any search here can wait for
                self._verify_later = True
                ts, adopted = self._settle(str(response["ts"]))
                # After our own ambiguous first attempt, the kept parent may be that one.
                self._owns_thread = not adopted or last is not None or self._rewrote
                return ts, adopted
            except SlackCallError as exc:
                if not exc.ambiguous:
                    raise
                last = exc
                self.log(
                    f"publish: {exc.describe()}; it may have been stored, looking before retrying"
                )
                found = self._await_late_store()
                if found is not None:
                    their = _shown_hash(found)
                    if their != self.hash:
                        # Another publisher raced us with other content: bring it to ours.
                        self._update_parent(str(found["ts"]))
                    self.log(f"publish: the message was stored (ts {found['ts']}); adopting it")
                    return str(found["ts"]), True
                if attempt == 0:
                    self.log("publish: not stored; posting again")
        assert last is not None
        raise last

    def _thread_state(self, ts: str, thread: list[dict[str, Any]] | None = None) -> ThreadState:
        """Parts already in the thread (part -> (ts, content hash)) and whether this
        version's files are there. ``thread``: its messages as already read."""
        parts: dict[int, tuple[str, str | None]] = {}
        files = False
        for message in self._replies(ts) if thread is None else thread:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == PART_EVENT_TYPE and payload.get("plan_key") in self.keys:
                # the oldest message of a part, the one `_dedupe_thread` keeps
                parts.setdefault(
                    as_int(payload.get("part")), (str(message["ts"]), payload.get("content_hash"))
                )
            if self._holds_files(message):
                files = True
        return parts, files

    def _replies(self, ts: str) -> list[dict[str, Any]]:
        """The messages of ``ts``'s thread, itself left out."""
        thread = self._channel_call(lambda: list(self.client.replies(self.channel, ts)))
        return [message for message in thread if str(message.get("ts")) != ts]

    def _shown_version(self, thread: list[dict[str, Any]]) -> int:
        """The latest version of this plan's files in a parent's ``thread`` (the markers
        of their titles that carry this plan's hash), 1 when there are none."""
        prefix = f"[{self.hash[:10]}."
        versions = [
            int(found.group()[len(prefix) : -1])
            for message in thread
            for f in message.get("files") or []
            if (found := _MARKED.search(str(f.get("title", ""))))
            and found.group().startswith(prefix)
        ]
        return max(versions, default=1)

    def _holds_files(self, message: dict[str, Any]) -> bool:
        """Whether ``message`` carries this version's files (their titles hold its marker)."""
        return any(self.marker in str(f.get("title", "")) for f in message.get("files") or [])

    def _finish_thread(
        self, ts: str, *, note: str | None, fresh: bool, state: ThreadState | None = None
    ) -> None:
        """Post or update the overflow parts, then the files (with ``note``), then record
        the thread as complete. ``fresh``: the parent was just posted, its thread is empty;
        ``state``: the thread as just read (else it is read here)."""
        existing: dict[int, tuple[str, str | None]]
        if fresh:
            existing, files_done = {}, False
        else:
            existing, files_done = state if state is not None else self._thread_state(ts)
        for i, part in enumerate(self.parts, 1):
            if i in existing:
                part_ts, their_hash = existing[i]
                if their_hash != self.hash:
                    self._update_part(part_ts, part)
                continue
            self._post_reply(ts, i, part)
        for i, (part_ts, their_hash) in sorted(existing.items()):
            if i > len(self.parts) and their_hash != self.hash:
                self._update_part(part_ts, self._superseded(i))
        if not files_done:
            self._upload(ts, note or FILES_COMMENT)
        self._record(ts, complete=True, note=None)

    def _update_part(self, ts: str, payload: dict[str, Any]) -> None:
        fields = {k: v for k, v in payload.items() if not k.startswith("unfurl")}
        self._channel_call(lambda: self.client.update_message(ts=ts, **fields))

    def _superseded(self, part: int) -> dict[str, Any]:
        text = "(An earlier version of the plan needed this part; the message above is current.)"
        return {
            "channel": self.channel,
            "text": text,
            "blocks": [context_block(text)],
            "metadata": metadata(
                PART_EVENT_TYPE, {"plan_key": self.key, "content_hash": self.hash, "part": part}
            ),
        }

    def _post_reply(self, ts: str, part: int, payload: dict[str, Any]) -> None:
        from rebalance.slack import SlackCallError

        for attempt in range(2):
            try:
                self._channel_call(lambda: self.client.post_message(thread_ts=ts, **payload))
                self.replies_posted += 1
                self._verify_later = True  # an earlier attempt's copy may still be stored
                return
            except SlackCallError as exc:
                if not exc.ambiguous or attempt == 1:
                    raise
                self.log(
                    f"publish: {exc.describe()}; looking for thread part {part} before retrying"
                )
                # over the window a late store takes, as for the parent: one look right
                # away missed a reply Slack stored two seconds later, and it was posted
                # twice (QA)
                if self._await_stored(
                    lambda: self._thread_state(ts)[0].get(part, ("", None))[1] == self.hash
                ):
                    self.log(f"publish: thread part {part} was stored; not posting it again")
                    return

    def _upload(self, ts: str, comment: str) -> None:
        from rebalance.slack import SlackCallError

        files = build_files(self.plan, marker=self.marker)
        for attempt in range(2):
            try:
                self._channel_call(
                    lambda: self.client.upload_files(
                        channel=self.channel, thread_ts=ts, files=files, initial_comment=comment
                    )
                )
                self.replies_posted += 1
                self._verify_later = True
                self._one_upload(ts)
                return
            except SlackCallError as exc:
                if not exc.ambiguous or attempt == 1:
                    raise
                self.log(f"publish: {exc.describe()}; looking for the files before retrying")
                if self._await_stored(lambda: self._thread_state(ts)[1]):
                    self.log("publish: the files were stored; not uploading them again")
                    return

    def _one_upload(self, ts: str) -> None:
        """After uploading this version's files: keep the first upload of them in the thread
        and delete any later one, as every publisher keeps the first parent (`_settle`).

        Two publishers with history stores of their own, revising one shift at once, both
        found no files in the thread and both uploaded them: the revision's note and files
        twice (seen fuzzing publishing against a failing Slack: 8 times in 60 rounds).
        Each deletes every copy but the oldest; deleting one twice is harmless. A copy
        Slack will not delete, or a thread Slack will not list now, is left, and said in
        the log: the files are up, and the publish stands."""
        from rebalance.slack import SlackCallError

        try:
            thread = self._replies(ts)
        except SlackCallError as exc:
            self.log(f"publish: could not look for a second upload of the files ({exc.describe()})")
            return
        copies = sorted(filter(self._holds_files, thread), key=lambda m: float(m["ts"]))
        for message in copies[1:]:
            self._delete_copy(str(message["ts"]), "a second upload of the files", ts)

    def _dedupe_thread(self, ts: str) -> tuple[bool, bool]:
        """Delete the later copies of a thread part (one message per part number, the
        oldest kept, as `_thread_state` reads them) or of an upload (the same file titles,
        which carry a version's marker) in ``ts``'s thread. Returns (listed, removed):
        whether Slack listed the thread, and whether a copy was deleted. What Slack will
        not list or delete is left, and said in the log."""
        from rebalance.slack import SlackCallError

        try:
            thread = sorted(self._replies(ts), key=lambda m: float(m["ts"]))
        except SlackCallError as exc:
            self.log(f"publish: could not look for copies in {ts}'s thread ({exc.describe()})")
            return False, False
        removed = False
        seen: set[tuple[Any, ...]] = set()
        for message in thread:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            titles = tuple(sorted(str(f.get("title", "")) for f in message.get("files") or []))
            if meta.get("event_type") == PART_EVENT_TYPE and payload.get("plan_key") in self.keys:
                # a revision updates a part in place: two messages of one part are copies,
                # whatever version each shows
                key: tuple[Any, ...] = ("part", as_int(payload.get("part")))
            elif titles and all(_MARKED.search(t) for t in titles):
                key = ("files", titles)
            else:
                continue
            if key not in seen:
                seen.add(key)
                continue
            removed |= self._delete_copy(str(message["ts"]), "a copy stored late", ts)
        return True, removed

    def _delete_copy(self, copy: str, what: str, thread_ts: str) -> bool:
        """Delete ``copy``, ``what`` it is (for the log), from ``thread_ts``'s thread:
        True when it is gone (deleted, or already), False when Slack refused, which is
        said in the log and left."""
        from rebalance.slack import SlackCallError

        try:
            if self._delete(copy):
                self.log(f"publish: deleted {copy}, {what} in {thread_ts}'s thread")
        except SlackCallError as exc:
            self.log(f"publish: could not delete {copy}, {what} ({exc.describe()})")
            return False
        return True

    def _delete(self, ts: str) -> bool:
        """Delete the message ``ts`` from the channel: True, or False when it is gone
        already (another publisher removed it); raises `SlackCallError` when Slack refuses."""
        from rebalance.slack import SlackCallError

        try:
            self._channel_call(
                functools.partial(self.client.delete_message, channel=self.channel, ts=ts)
            )
        except SlackCallError as exc:
            if exc.error == "message_not_found":
                return False
            raise
        return True

    # ---------------------------------------------------------- membership
    def _channel_call(self, fn: Callable[[], Any]) -> Any:
        """Run a call on the channel; if the bot is not in it, join once and retry."""
        from rebalance.slack import SlackCallError

        try:
            return fn()
        except SlackCallError as exc:
            if exc.error not in {"not_in_channel", "channel_not_found"} or self._joined:
                raise
            self._joined = True
            try:
                self.client.join(self.channel)
            except SlackCallError as join_exc:
                self.log(f"publish: could not join {self.channel}: {join_exc.describe()}")
                self._join_error = join_exc.error
                raise exc from None
            self.log(f"publish: joined {self.channel}")
            return fn()

    def bot_name(self) -> str:
        """`bot_name` of the client, asked once."""
        if self._bot is None:
            self._bot = bot_name(self.client)
        return self._bot

    # --------------------------------------------------------------- errors
    def error(self, exc: SlackCallError) -> PublishError:
        """The PublishError a user can act on, for a failed call."""
        msg, hint = failure(
            exc,
            self.client,
            f"channel {self.channel}",
            bot=self.bot_name,
            join_error=self._join_error,
            channel_key="[slack] channel / --channel",
        )
        if self._thread_pending:
            msg += (
                f". The plan's message is up in {self.channel} (ts {self._thread_pending}) "
                "but its thread is not complete: replies or the CSV files are missing"
            )
            hint += " That run finishes the thread (what is already there is not posted again)."
        return PublishError(
            self.client.scrub(f"publishing to channel {self.channel} failed: {msg}"),
            hint=self.client.scrub(f"{PLAN_SAVED} {hint}"),
            slack_error=exc.error or exc.kind.value,
        )


def bot_name(client: SlackApi) -> str:
    """The bot's name for "/invite @name" (auth.test), or a placeholder."""
    from rebalance.slack import SlackCallError

    try:
        return str(client.auth_test().get("user") or "") or "<your bot>"
    except SlackCallError:
        return "<your bot>"


def failure(
    exc: SlackCallError,
    client: Any,
    where: str,
    *,
    bot: Callable[[], str],
    join_error: str | None = None,
    channel_key: str,
) -> tuple[str, str]:
    """(what failed, how to fix it and retry) for a Slack call that failed while posting
    to ``where`` ("channel C0..."), the channel set by ``channel_key``: the publisher's
    and the approval request's one wording of Slack's answers."""
    from rebalance.slack import FailureKind

    retry = "Run the same command again afterwards: it never posts the plan twice."
    code = exc.error or ""
    if exc.kind is FailureKind.RATE_LIMITED:
        # Bounded: a long Retry-After is not waited out (see rebalance.slack).
        when = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=exc.retry_after)
        msg = f"Slack kept rate-limiting {exc.method} (HTTP 429: {exc.detail})"
        hint = (
            f"Slack allows the next attempt in {exc.retry_after:g} s, after "
            f"{when:%Y-%m-%d %H:%M:%S} UTC. {retry}"
        )
    elif exc.kind is FailureKind.REFUSED:
        msg = f"cannot connect to Slack at {client.base_url} ({exc.detail})"
        hint = f"Check network access (and SLACK_API_URL if set). {retry}"
    elif exc.kind is FailureKind.TIMEOUT:
        msg = f"Slack did not answer {exc.method} within {client.timeout:g} s"
        hint = (
            f"Slack or the network is slow ({'REBALANCE_SLACK_TIMEOUT'} sets the timeout). {retry}"
        )
    elif exc.kind is FailureKind.CONNECTION:
        msg = f"the connection to Slack dropped during {exc.method} ({exc.detail})"
        hint = retry
    elif exc.kind is FailureKind.SERVER:
        msg = (
            f"Slack failed on {exc.method} (HTTP {exc.status or '?'}{', ' + code if code else ''})"
        )
        hint = f"Slack may be having an incident (https://slack-status.com). {retry}"
    elif code in {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
    }:
        msg = f"Slack rejected the bot token ({code})"
        hint = (
            "Check SLACK_BOT_TOKEN: it must be the Bot User OAuth Token (xoxb-...) of the "
            "app installed in this workspace; reinstall the app if it was revoked. " + retry
        )
    elif code in {"not_in_channel", "channel_not_found"}:
        join = join_error
        name = bot()
        if code == "not_in_channel":
            msg = f"the bot is not a member of {where} ({code})"
        else:
            msg = f"Slack has no {where} that this bot can see ({code})"
        hint = f"Invite the bot in the channel with /invite @{name}"
        if join == "missing_scope":
            hint += " (or give the app the channels:join scope, so it joins public channels itself)"
        if code == "channel_not_found":
            hint += f"; and check the ID in {channel_key}"
        hint += ". " + retry
    elif code == "is_archived":
        msg = f"{where} is archived ({code})"
        hint = f"Unarchive it, or use another channel ({channel_key}). " + retry
    elif code == "missing_scope":
        scope = exc.needed or _SCOPES.get(exc.method, "the scope this method needs")
        msg = f"the Slack app lacks the {scope} scope for {exc.method} ({code})"
        hint = (
            f"Add the {scope} scope (OAuth & Permissions of the Slack app), reinstall the app, "
            "update SLACK_BOT_TOKEN if it changed. " + retry
        )
    elif code in {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_blocks_too_long",
        "msg_too_long",
        "invalid_metadata_format",
    }:
        msg = f"Slack refused the message layout ({code}{': ' + exc.detail if exc.detail else ''})"
        hint = (
            "This is a bug in rebalance: run with --dry-run, paste the parent in Block Kit "
            "Builder (the link it prints) and report it with the plan folder."
        )
    else:
        msg = f"Slack refused {exc.method} ({code}{': ' + exc.detail if exc.detail else ''})"
        hint = f"See https://docs.slack.dev/reference/methods/{exc.method} for '{code}'. {retry}"
    return msg, hint


#: The scope each method needs, for a missing_scope answer without ``needed``.
_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "conversations.history": "channels:history (groups:history for a private channel)",
    "conversations.replies": "channels:history (groups:history for a private channel)",
    "conversations.join": "channels:join",
    "files.completeUploadExternal": "files:write",
    "files.getUploadURLExternal": "files:write",
}
