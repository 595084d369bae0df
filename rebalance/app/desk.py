"""What the app does for a command or a click, after Slack has been acknowledged.

`Desk` works with the history store (a fresh connection per task: listeners run on
several threads, and `rebalance run` or `publish` may write at the same time from
other processes) and the Web API client of `rebalance.slack`. It knows nothing of
Bolt: each method returns the mrkdwn text to show the user, ephemerally.

- The shift a command applies to is the city's latest planned shift (of the shifts
  of its recorded runs, not dry runs, the latest started by now, else the next to
  start), else now rounded down to the quarter hour.
- Re-plans are `rebalance.runner.run` (lock, history, plan folder, publication or
  approval request), one at a time in this process and waiting for a cron run of
  the same shift to finish first.
- Decisions on approval requests are compare-and-set transitions in the store, so a
  double click, a retried delivery or two servers never publish twice.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rebalance.errors import InputError, LockHeldError, PublishError, RebalanceError
from rebalance.history import History, utc_now

from .approval import APPROVE_TEXT, edit_approval, has_plan, parse_button_value, permalink
from .messages import channel_ref, code, esc, short, slack_time, user_ref

if TYPE_CHECKING:
    from rebalance.config import Config
    from rebalance.history import Approval, RunRecord
    from rebalance.plan import Plan
    from rebalance.slack import SlackClient

#: A logger, or one bound to the city (`rebalance.logs.RunLog`).
Logger = logging.Logger | logging.LoggerAdapter[Any]

__all__ = ["Desk", "User"]

#: How long a re-plan or an approval waits for a run of the same shift to finish.
LOCK_WAIT_SECONDS = 120.0
#: An approval stuck in ``approving`` this long (its process died) may be taken over.
STALE_APPROVING = timedelta(minutes=5)
#: How long the ack of ``/rebalance close|open`` waits for the id to be looked up, so
#: that an unknown id is answered in the ack itself (Slack wants the ack within 3 s).
LOOKUP_SECONDS = 1.5


@dataclass(frozen=True)
class User:
    """Who sent a command or clicked: Slack user ID, name and team (for the record)."""

    id: str
    name: str = ""
    team: str = ""


class Desk:
    """The app's work for one city (one config)."""

    def __init__(self, config: Config, *, logger: Logger | None = None):
        self.config = config
        self.logger = logger or logging.getLogger("rebalance.serve")
        self._replan_lock = threading.Lock()
        #: The restaurant ids of the data folder, with the files' (mtime, size) they
        #: were read at: a look-up reads restaurants.csv again only once it changed.
        self._ids: tuple[Any, list[str], frozenset[str]] | None = None
        self._ids_lock = threading.Lock()
        self._change_lock = threading.Lock()  # overrides read and added as one step

    # ------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def store(self, *, timeout: float | None = None) -> Iterator[History]:
        """A connection to the history store for one task (``timeout``: seconds to wait
        for another process's write, `History`'s default when None)."""
        history = History(self.config.history_path, timeout=timeout)
        try:
            yield history
        finally:
            history.close()

    def client(self) -> SlackClient:
        """A Web API client from the environment (token, SLACK_API_URL)."""
        return slack_client(self.logger)

    def event(self, event: str, message: str, level: int = logging.INFO, **data: Any) -> None:
        """One JSON log line (event name and fields, as `run` logs them)."""
        self.logger.log(level, message, extra={"event": event, **data})

    def may_act(self, user: User) -> bool:
        """Whether the user is one of ``[slack] approvers``."""
        return user.id in set(self.config.slack.approvers)

    def refusal(self, user: User) -> str:
        """The ephemeral refusal for someone who may not act."""
        if not self.config.slack.approvers:
            return (
                ":no_entry: Nobody may change this shift from Slack yet: `[slack] approvers` "
                "is empty in the app's configuration. Ask the operator to add Slack user IDs."
            )
        return (
            f":no_entry: Sorry {user_ref(user.id)}, only the approvers listed in the app's "
            "configuration (`[slack] approvers`) may approve plans or change the shift. "
            "Nothing was changed."
        )

    # --------------------------------------------------------------- shift
    def _latest_run(self, history: History) -> RunRecord | None:
        """The newest run of the city's latest planned shift (not a dry run): of the
        shifts started by now the latest, else the next to start. The shift, not the run
        started last: a retry of an earlier shift (the command an exit 5 prints carries
        its --shift-start) made `/rebalance close`, `plan` and `why` act on that earlier
        shift while the later plan was in force. And one run of next week's shift (a
        plan made ahead, a typo) does not take them away from tonight's."""
        now = pd.Timestamp(datetime.now(UTC))
        best: tuple[tuple[bool, int], RunRecord] | None = None
        for record in history.runs(city=self.config.city.name, limit=50):  # newest first
            if record.dry_run or not record.plan_dir:
                continue
            start = pd.Timestamp(record.shift_start)
            started = start <= now
            rank = (started, start.value if started else -start.value)
            if best is None or rank > best[0]:
                best = (rank, record)
        return best[1] if best else None

    def current_shift(self, history: History) -> tuple[pd.Timestamp, Path | None]:
        """The shift commands apply to, and the data folder its runs read."""
        from rebalance.timeparse import floor_quarter_hour

        tz = self.config.city.timezone
        record = self._latest_run(history)
        if record is None:
            return floor_quarter_hour(datetime.now(UTC), tz).tz_convert(tz), self.config.data_dir
        data = record.extra.get("data_dir")
        folder = Path(data) if data else self.config.data_dir
        return pd.Timestamp(record.shift_start).tz_convert(tz), folder

    def _window(self, shift: pd.Timestamp) -> str:
        from rebalance.views.wording import window_text

        return window_text(shift, shift + self.config.shift.length, year=False)

    # ----------------------------------------------------------------- why
    def why(self, zone: str) -> str:
        """Why a zone of the shift's latest plan is what it is (`rebalance explain`)."""
        from rebalance.errors import RebalanceError
        from rebalance.explain import worth_words
        from rebalance.plan import read_plan
        from rebalance.publish.blocks import mrkdwn_name
        from rebalance.views.wording import plural, whole_minutes

        with self.store() as history:
            record = self._latest_run(history)
        if record is None or not record.plan_dir:
            return "No plan yet for this city (`rebalance run` makes one)."
        try:
            plan = read_plan(record.plan_dir)
            expl = plan.explain(zone)
        except KeyError as exc:
            # it quotes what was typed and the plan's zone ids: partners' text
            return f"{short(str(exc.args[0]), 1000)}\n(`/rebalance why ZONE_ID`)"
        except (RebalanceError, ValueError) as exc:
            return f"The latest plan cannot be explained: {esc(str(exc))}"
        names = dict(
            zip(plan.zones["zone_id"].astype(str), plan.zones["name"].astype(str), strict=False)
        )
        # ids whole, with formatting characters as look-alikes (partners' text)
        label = f"{mrkdwn_name(zone)} {short(names.get(zone, ''))}".strip()
        lines = [f"*Why {label}* · plan {code(plan.plan_id)} ({esc(plan.status)})"]
        for row in expl.short.itertuples(index=False):
            lines.append(f"• short by *{int(row.shortage)}* now: {short(row.why, 1000)}")
        if expl.short.empty:
            lines.append("• not short now")
        for row in expl.routes.head(5).itertuples(index=False):
            lines.append(
                f"• {mrkdwn_name(row.from_zone)} → {mrkdwn_name(row.to_zone)}: "
                f"{plural(int(row.couriers), 'courier')}, "
                f"saves {whole_minutes(row.saves_minutes)} ({short(row.why, 1000)})"
            )
        ranked = expl.ranking[expl.ranking["zone_id"].astype(str) == zone]
        for row in ranked.itertuples(index=False):
            value = float(row.marginal_minutes)
            if expl.marginal == "none":
                why = "not proven optimal" if plan.status != "optimal" else "written without them"
                worth = f"not computed (the plan is {why})"
            elif value == value:  # what the value is: `explain.marginal_kind`
                worth = worth_words(expl.marginal, f"{value:,.1f}", "worth")
            else:
                worth = "would not fit (caps)"
            lines.append(f"• one more courier here for the whole shift: {worth}")
        return "\n".join(lines)

    # -------------------------------------------------------------- status
    def status(self, city: str | None) -> str:
        """The shift at a glance: latest plan, its message, overrides."""
        from rebalance.overrides import overrides_for_shift
        from rebalance.paths import slug
        from rebalance.publish import plan_key

        name = self.config.city.name
        if city is not None and city.casefold() != name.casefold() and slug(city) != slug(name):
            return f"Unknown city {code(city)}: this app serves *{short(name)}* ({code(f'/rebalance status {name}')})."
        tz = self.config.city.timezone
        with self.store() as history:
            shift, _ = self.current_shift(history)
            record = self._latest_run(history)
            lines = [f"*{short(name)}* · shift {self._window(shift)}"]
            if record is None:
                lines.append("No plan yet for this city (`rebalance run` makes one).")
            else:
                k = record.kpis
                lines.append(
                    f"Latest plan: run {code(record.run_id)} ({esc(record.status)}), "
                    f"coverage {_pct(k.get('coverage_before'))} → {_pct(k.get('coverage'))}, "
                    f"{_moved(k.get('moved_couriers'))} moved, shortage now {k.get('shortage', '?')}."
                )
                key = plan_key(name, shift)
                pub = history.publication(key, self.config.slack.channel)
                if pub is not None:
                    lines.append(
                        f"Published in {channel_ref(pub.channel)} (revision {pub.revision}, "
                        f"updated {slack_time(pub.updated_at, tz)})."
                    )
                approvals = history.approvals(key)
                if approvals:
                    last = approvals[-1]
                    state = {
                        "pending": "awaiting approval",
                        "held": f"held by {user_ref(last.decided_by)}",
                        "approving": "being approved",
                        "approved": f"approved by {user_ref(last.decided_by)} at {slack_time(last.decided_at, tz)}",
                        "superseded": "superseded",
                    }.get(last.status, esc(last.status))
                    lines.append(f"Latest version in {channel_ref(last.channel)}: {state}.")
            overrides = overrides_for_shift(history, name, shift)
        if overrides:
            lines.append(f"*Overrides for this shift* ({len(overrides)}):")
            lines += [
                # "`R1` open by" read as an order; what was done to it: opened, closed
                f"• {code(o.restaurant_id)} {_DONE.get(o.status, esc(o.status))} by "
                f"{user_ref(o.user_id)} at {slack_time(o.created_at, tz)}"
                for o in overrides[-20:]
            ]
        else:
            lines.append("No overrides for this shift.")
        return "\n".join(lines)

    # ----------------------------------------------------------- overrides
    def change(self, restaurant_id: str, status: str, user: User) -> str:
        """Set a restaurant's status for the current shift, then re-plan."""
        from rebalance.inputs import load_tables
        from rebalance.overrides import apply_overrides, overrides_for_shift, shift_window

        verb = "close" if status == "closed" else "open"
        with self.store() as history:
            shift, folder = self.current_shift(history)
            if folder is None:
                return (
                    "The app's configuration has no `[data] dir` and no run recorded one: "
                    "set `[data] dir` so the app can read the restaurants."
                )
            try:
                inputs = load_tables(folder, self.config, per_table=False)
            except RebalanceError as exc:
                return f":warning: The city's data cannot be read, nothing changed:\n```{esc(str(exc), one_line=False)[:2500]}```"
            restaurants = inputs.restaurants
            ids = restaurants["restaurant_id"].astype(str).tolist()
            if restaurant_id not in set(ids):
                return self._unknown_restaurant(restaurant_id, ids, verb)
            # Read the overrides and add one as one step: a close and an open of the same
            # restaurant a few ms apart both read "open", so the open answered "already
            # open" and the restaurant stayed closed.
            with self._change_lock:
                current = apply_overrides(
                    inputs, overrides_for_shift(history, self.config.city.name, shift)
                )
                row = current.restaurants.loc[
                    current.restaurants["restaurant_id"] == restaurant_id
                ].iloc[0]
                label = f"{code(restaurant_id)} {short(row['name'])}".strip()
                if row["status"] == status:
                    return f"{label} is already {status} for the shift {self._window(shift)}; nothing to change."
                start, end = shift_window(self.config, shift)
                record = history.add_override(
                    city=self.config.city.name,
                    shift_start=start,
                    shift_end=end,
                    restaurant_id=restaurant_id,
                    status=status,
                    user_id=user.id,
                    user_name=user.name,
                )
        self.event(
            "override",
            f"{restaurant_id} {status} by {user.id}",
            override_id=record.override_id,
            restaurant_id=restaurant_id,
            status=status,
            user_id=user.id,
        )
        outcome = self.replan(user, why=f"{restaurant_id} {status}")
        return f"{label} is now *{status}* for the shift {self._window(shift)} (by {user_ref(user.id)}).\n{outcome}"

    def unknown_restaurant(self, restaurant_id: str, verb: str) -> str | None:
        """The answer to ``/rebalance close|open`` of an id that is no restaurant of the
        shift's data folder; None when it is one, or when the folder cannot tell (then
        `change` says why, after the ack). Reads only the restaurants table."""
        from rebalance.inputs import table_ids

        with self.store() as history:
            _, folder = self.current_shift(history)
        if folder is None:
            return None
        stamp = _files_stamp(folder, "restaurants")
        with self._ids_lock:
            if self._ids is None or self._ids[0] != stamp:
                try:
                    ids = table_ids(folder, "restaurants")
                except (RebalanceError, OSError):
                    return None
                self._ids = (stamp, ids, frozenset(ids))
            _, ids, known = self._ids
        if restaurant_id in known:
            return None
        return self._unknown_restaurant(restaurant_id, ids, verb)

    def _unknown_restaurant(self, restaurant_id: str, ids: list[str], verb: str) -> str:
        # an id that differs only in case is the one meant ("r00001": "R00001", not four
        # unrelated look-alikes after it); else the look-alikes, compared case-blind
        close = [i for i in ids if i.casefold() == restaurant_id.casefold()][:5]
        if not close:
            folded = {i.casefold(): i for i in reversed(ids)}
            near = difflib.get_close_matches(
                restaurant_id.casefold(), list(folded), n=5, cutoff=0.6
            )
            close = [folded[n] for n in near]
        text = (
            f"Unknown restaurant id {code(restaurant_id)} in {short(self.config.city.name)}: "
            f"valid ids are the `restaurant_id` column of restaurants.csv ({len(ids)} restaurants"
        )
        sample = ", ".join(f"{code(i)}" for i in sorted(ids)[:3])
        text += f", e.g. {sample})." if ids else ")."
        if close:
            text += " Did you mean " + ", ".join(f"{code(c)}" for c in close) + "?"
        return text + f" Usage: `/rebalance {verb} RESTAURANT_ID`. Nothing was changed."

    # -------------------------------------------------------------- re-plan
    def replan(self, user: User, *, why: str = "re-plan") -> str:
        """Plan the current shift again (`rebalance run`) and say what became of it."""
        from rebalance.logs import RunLog
        from rebalance.runner import run

        with self._replan_lock:
            with self.store() as history:
                shift, folder = self.current_shift(history)
            self.event("replan", f"re-planning {shift.isoformat()} ({why})", user_id=user.id)
            try:
                result = run(
                    self.config,
                    folder,
                    shift_start=shift,
                    log=RunLog(),
                    lock_wait=LOCK_WAIT_SECONDS,
                )
            except RebalanceError as exc:
                self.event("replan", f"re-plan failed: {exc}", level=logging.WARNING)
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                text = f":warning: The re-plan failed (exit {exc.exit_code}): {esc(first)}"
                # how to fix it and retry (exit 5: the plan is saved, the channel's
                # message is stale): it was cut with the error's other lines
                hint = getattr(exc, "hint", "") or ""
                if hint:
                    again = "Then re-plan with `/rebalance plan`"
                    text += f"\n{esc(hint).replace('Run the same command again afterwards', again)}"
                if isinstance(exc, PublishError):
                    text += "\nThe channel's message shows the plan before this change until then."
                return text
        k = result.plan.kpis
        numbers = (
            f"coverage {_pct(k.get('coverage_before'))} → {_pct(k.get('coverage'))}, "
            f"{_moved(k.get('moved_couriers', 0))} moved, shortage now {k.get('shortage', 0)}"
        )
        action = result.publish.action
        where = channel_ref(result.publish.channel)
        text = {
            "posted": f"Re-planned ({numbers}); posted to {where}.",
            "updated": f"Re-planned ({numbers}); the shift's message in {where} is revised (changes in its thread).",
            "unchanged": f"Re-planned ({numbers}); the plan is unchanged, nothing posted again.",
            "adopted": f"Re-planned ({numbers}); the shift's message in {where} is current.",
            "approval-requested": f"Re-planned ({numbers}); the new version awaits approval in {where}.",
            "approval-pending": f"Re-planned ({numbers}); unchanged, still awaiting approval in {where}.",
            "approved": f"Re-planned ({numbers}); unchanged, already approved and published.",
        }.get(action, f"Re-planned ({numbers}): {esc(action)}.")
        self.event("replan", text, run_id=result.run_id, action=action)
        return text

    # ------------------------------------------------------------ decisions
    def decide(self, decision: str, value: str, user: User, *, button: str = "") -> str:
        """Approve or hold the plan version a button carries; ``button``: the clicked
        button's text, when Slack gives it (`approval.APPROVE_TEXT` decides an undecided
        plan only)."""
        parsed = parse_button_value(value)
        if parsed is None:
            return "This button does not belong to a plan of this app; nothing was done."
        key, chash = parsed
        with self.store() as history:
            approval = history.approval(key, chash)
            if approval is None:
                return (
                    "This plan is not in the app's history store (is the app configured with "
                    "the same `[history] path` as `rebalance run`?). Nothing was done."
                )
            newer = self._newer(history, approval)
            if newer is not None or approval.status == "superseded":
                return self._outdated(approval, newer)
            if decision == "hold":
                return self._hold(history, approval, user)
            return self._approve(history, approval, user, button=button)

    def _newer(self, history: History, approval: Approval) -> Approval | None:
        later = [
            a
            for a in history.approvals(approval.plan_key)
            if a.content_hash != approval.content_hash and a.requested_at > approval.requested_at
        ]
        return later[-1] if later else None

    def _outdated(self, approval: Approval, newer: Approval | None) -> str:
        if newer is None:
            return "This plan was superseded by a newer one for this shift. Nothing was published."
        link = permalink(self.client(), newer.channel, newer.ts)
        pointer = (
            f"<{link}|the newer plan>"
            if link
            else f"the newer plan in {channel_ref(newer.channel)}"
        )
        return (
            f":fast_forward: This plan is outdated: a newer one exists for this shift, see {pointer} "
            f"(plan {esc(newer.plan_id)}). Nothing was published."
        )

    def _already(self, approval: Approval) -> str:
        tz = self.config.city.timezone
        who, when = user_ref(approval.decided_by), slack_time(approval.decided_at, tz)
        if approval.status == "approved":
            return (
                f"Already approved by {who} at {when} and published once to "
                f"{channel_ref(approval.target_channel)}; nothing was done twice."
            )
        if approval.status == "approving":
            return (
                f"{who} is approving this plan right now ({when}); nothing was done twice. "
                "If it is not published 5 minutes after that, click Finish publishing."
            )
        if approval.status == "held":
            return f"Already held by {who} at {when}; nothing was done twice."
        return "This plan was superseded by a newer one; nothing was done."

    def _hold(self, history: History, approval: Approval, user: User) -> str:
        if approval.status in {"pending", "held"} and _shown(history, approval):
            # an approval whose publishing failed after the message went up
            return (
                f"This plan's message is already in {channel_ref(approval.target_channel)} "
                "(its publishing did not finish): Hold cannot take it back. Click Finish "
                "publishing to complete its thread; to change the plan, close or open "
                "restaurants, or re-plan with `/rebalance plan`."
            )
        held = history.transition_approval(
            approval.plan_key,
            approval.content_hash,
            from_states=("pending",),
            status="held",
            decided_by=user.id,
            decided_at=utc_now(),
        )
        if held is None:
            return self._already(
                history.approval(approval.plan_key, approval.content_hash) or approval
            )
        self.event(
            "approval", f"{approval.plan_key} held by {user.id}", decision="hold", user_id=user.id
        )
        self._edit(held)
        return f"Held. The plan stays out of {channel_ref(held.target_channel)}; Approve it later if needed."

    def _approve(self, history: History, approval: Approval, user: User, *, button: str) -> str:
        from rebalance.lock import RunLock
        from rebalance.paths import lock_path
        from rebalance.plan import read_plan
        from rebalance.publish import publish

        if approval.status in {"pending", "held"} and not has_plan(approval.plan_dir):
            # its run folder was deleted since: every Approve could only fail. Only an
            # undecided request, and only a folder without its plan.json (the rule
            # `approval._current` re-posts by): an approved one keeps its "Approved by",
            # and a damaged folder fails as publishing does, its buttons kept
            try:
                read_plan(approval.plan_dir)
            except InputError as exc:
                return self._gone(approval, exc, user)
        now = utc_now()
        # The pending request's Approve decides an undecided plan only: a Hold that
        # landed a few ms before it was answered "stays out", then published by it.
        undecided = button == APPROVE_TEXT
        claimed = history.transition_approval(
            approval.plan_key,
            approval.content_hash,
            from_states=("pending",) if undecided else ("pending", "held"),
            status="approving",
            decided_by=user.id,
            decided_at=now,
            error=None,
        )
        if claimed is None:
            current = history.approval(approval.plan_key, approval.content_hash) or approval
            if current.status == "approving" and _stale(current.decided_at):
                # Its process died mid-publish: publishing is idempotent, take over.
                claimed = history.transition_approval(
                    approval.plan_key,
                    approval.content_hash,
                    from_states=("approving",),
                    expect={"decided_at": current.decided_at},
                    decided_by=user.id,
                    decided_at=now,
                )
            if claimed is None:
                self.event(
                    "approval",
                    f"{approval.plan_key}: {current.status}; click by {user.id} ignored",
                    decision="approve",
                    user_id=user.id,
                    outcome="duplicate",
                )
                if current.status == "held" and undecided:
                    return (
                        f"{user_ref(current.decided_by)} held this plan just before your "
                        f"click ({slack_time(current.decided_at, self.config.city.timezone)})"
                        "; nothing was published. To publish it anyway, click Approve after "
                        "all on the request."
                    )
                return self._already(current)
        self.event(
            "approval",
            f"{approval.plan_key} approved by {user.id}",
            decision="approve",
            user_id=user.id,
        )
        self._edit(claimed)
        plan = None
        try:
            plan = read_plan(claimed.plan_dir)
            local = plan.local(plan.shift_start)
            lock = RunLock(
                lock_path(history.path, plan.city, plan.shift_start),
                what=f"{plan.city}, shift {local:%Y-%m-%d %H:%M %Z}",
                info={
                    "command": "serve (approve)",
                    "city": plan.city,
                    "shift_start": local.isoformat(),
                },
            )
            client = self.client()
            # behind a cron run of the shift: wait for it, said once in the log
            lock.acquire(
                LOCK_WAIT_SECONDS,
                lambda exc: self.event(
                    "lock_wait", f"a run of {plan.shift_start.isoformat()} holds the lock; waiting"
                ),
            )
            with lock:
                newer = self._newer(history, claimed)
                if newer is not None:
                    # a re-plan of the shift, behind whose lock this click waited, put up
                    # a newer version: publishing this one would undo it in the channel
                    return self._superseded_while_waiting(history, claimed, newer, user)
                result = publish(
                    plan,
                    config=self.config,
                    channel=claimed.target_channel,
                    history=history,
                    client=client,
                    log=lambda line: self.event("slack", line.removeprefix("publish: ")),
                    shown=_recovered(history, claimed),
                )
        except (RebalanceError, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            damaged = _damaged(exc, claimed.plan_dir) if plan is None else None
            if damaged:
                reason = ": ".join(damaged)
            back = history.transition_approval(
                claimed.plan_key,
                claimed.content_hash,
                from_states=("approving",),
                status=approval.status,
                decided_by=approval.decided_by,
                decided_at=approval.decided_at,
                error=reason,
            )
            self.event("approval", f"publishing failed: {reason}", level=logging.WARNING)
            shown = _shown(history, claimed)
            retry = (
                "Click Finish publishing to complete it." if shown else "Approve again to retry."
            )
            if back is not None:
                self._edit(
                    back,
                    note=f":warning: Approval by {user_ref(user.id)} failed: {esc(reason)}. {retry}",
                    shown=shown,
                )
            if damaged:
                # said in the app's terms (not `rebalance plan --out`'s); the buttons
                # stay: the files may be put right on the server
                return (
                    f":warning: This plan could not be published: its files on the app's "
                    f"server are damaged ({esc(damaged[0])}: {code(damaged[1])}). Nothing was "
                    "published. Approve again once they are repaired, or `/rebalance plan` "
                    "re-plans the shift "
                    f"and puts the new version up for approval in {channel_ref(approval.channel)}."
                )
            exit_code = getattr(exc, "exit_code", 1)
            hint = (
                (
                    f" Its message is up in {channel_ref(claimed.target_channel)} with an "
                    "incomplete thread: click Finish publishing to complete it."
                    if shown
                    else " It is safe to click Approve again."
                )
                if isinstance(exc, PublishError | LockHeldError)
                else ""
            )
            return f":warning: Publishing failed (exit {exit_code}): {esc(reason)}.{hint}"
        done = history.transition_approval(
            claimed.plan_key,
            claimed.content_hash,
            from_states=("approving",),
            status="approved",
            published_ts=result.ts,
        )
        if done is not None:
            self._edit(done)
        self._record_on_run(history, claimed, result, user)
        link = permalink(self.client(), result.channel, result.ts)
        where = f"<{link}|the shift's message>" if link else "the shift's message"
        return f":white_check_mark: Approved and published to {channel_ref(result.channel)} ({where}, {esc(result.action)})."

    def _superseded_while_waiting(
        self, history: History, claimed: Approval, newer: Approval, user: User
    ) -> str:
        """The click's claim given up for a newer version put up meanwhile: this
        version is superseded, its request says so, and the approver hears where the
        newer one is. Nothing is published."""
        gone = history.transition_approval(
            claimed.plan_key,
            claimed.content_hash,
            from_states=("approving",),
            status="superseded",
        )
        self.event(
            "approval",
            f"{claimed.plan_key}: superseded by {newer.content_hash} while waiting to publish; "
            f"click by {user.id} published nothing",
            decision="approve",
            user_id=user.id,
            outcome="superseded",
        )
        if gone is not None:
            link = permalink(self.client(), newer.channel, newer.ts)
            self._edit(gone, newer_link=link)
        return self._outdated(claimed, newer)

    def _gone(self, approval: Approval, exc: InputError, user: User) -> str:
        """A click on a request whose plan files are gone: said in the app's terms (not
        `rebalance plan --out`'s), and its buttons taken away, since every later click
        could only fail the same way; `/rebalance plan` puts a new version up."""
        from rebalance.slack import SlackCallError

        from .approval import mark_unpublishable

        problem = exc.problems[0].message if exc.problems else type(exc).__name__
        self.event(
            "approval",
            f"{approval.plan_key}: the plan's files are gone ({problem}: {approval.plan_dir}); "
            f"click by {user.id} cannot publish it",
            level=logging.WARNING,
            decision="approve",
            user_id=user.id,
            outcome="plan_gone",
        )
        try:
            mark_unpublishable(self.client(), approval)
        except (SlackCallError, RebalanceError, OSError) as exc_edit:
            self.event(
                "approval",
                f"could not edit the approval message: {exc_edit}",
                level=logging.WARNING,
            )
        return (
            f":warning: This plan cannot be published: its files on the app's server are gone "
            f"({esc(problem)}: {code(approval.plan_dir)}). Nothing was published. "
            f"`/rebalance plan` re-plans the shift and puts the new version up for approval "
            f"in {channel_ref(approval.channel)}."
        )

    def _record_on_run(self, history: History, approval: Approval, result: Any, user: User) -> None:
        """The run that made the plan now shows where it was published, and by whose approval."""
        record = history.run(approval.run_id) if approval.run_id else None
        if record is None:
            return
        extra = {
            **record.extra,
            "publish_action": result.action,
            "approved_by": user.id,
            "approved_at": approval.decided_at,
            "approval_channel": approval.channel,
            "approval_ts": approval.ts,
        }
        history.update_run(
            record.run_id, slack_channel=result.channel, slack_ts=result.ts, extra=extra
        )

    def _edit(
        self,
        approval: Approval,
        *,
        note: str | None = None,
        shown: bool = False,
        newer_link: str | None = None,
    ) -> None:
        """Redraw the approval message; a failure is logged, never shown as the outcome."""
        from rebalance.plan import read_plan
        from rebalance.slack import SlackCallError

        try:
            edit_approval(
                self.client(),
                read_plan(approval.plan_dir),
                approval,
                timezone=self.config.city.timezone,
                note=note,
                shown=shown,
                newer_link=newer_link,
            )
        except (SlackCallError, RebalanceError, OSError) as exc:
            self.event(
                "approval", f"could not edit the approval message: {exc}", level=logging.WARNING
            )


def _damaged(exc: BaseException, folder: str) -> tuple[str, str] | None:
    """What is wrong with a plan folder that `read_plan` refused (``exc``), without the
    terminal's advice (``rebalance plan --out``), and the file; None for another error."""
    if not isinstance(exc, InputError) or not exc.problems:
        return None
    problem = exc.problems[0]
    return problem.message, problem.file or folder


def _shown(history: History, approval: Approval) -> bool:
    """Whether the target channel's message of the shift is this version's: a message
    approved and posted, whose publishing may not have finished."""
    shown = history.publication(approval.plan_key, approval.target_channel)
    return shown is not None and shown.content_hash == approval.content_hash


def slack_client(logger: Any) -> SlackClient:
    """A Web API client from the environment (token, SLACK_API_URL) whose calls go to
    ``logger`` at debug level. Every JSON line names its event (README, "Logs"): Slack
    calls are "slack_call"."""
    from rebalance.slack import SlackClient

    return SlackClient.from_env(log=lambda line: logger.debug(line, extra={"event": "slack_call"}))


def _files_stamp(folder: Path, name: str) -> tuple[Any, ...]:
    """What tells whether table ``name`` of ``folder`` changed: its files' size and times."""
    stamp: list[Any] = [str(folder)]
    for suffix in (".csv", ".parquet"):
        try:
            st = (folder / f"{name}{suffix}").stat()
        except OSError:
            continue
        stamp.append((suffix, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(stamp)


def _stale(decided_at: str | None) -> bool:
    if not decided_at:
        return True
    return datetime.now(UTC) - datetime.fromisoformat(decided_at) > STALE_APPROVING


#: What an override did, in the status list: "`R1` opened by ...".
_DONE = {"open": "opened", "closed": "closed"}


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _moved(count: Any) -> str:
    """``1 courier``, ``3 couriers``; ``? couriers`` when the run recorded no count."""
    from rebalance.views.wording import plural

    try:
        return plural(int(count), "courier")
    except (TypeError, ValueError):
        return "? couriers"


def _recovered(history: History, approval: Approval) -> Plan | None:
    """The plan the channel's message showed when the run that asked for ``approval``
    re-planned against it, found from the message because the history store had been
    moved aside (`rebalance.replan.find_shown`): `publish` itemises the revision against
    it, as against a recorded publication. None otherwise, or when its folder cannot be
    read (the revision then says its changes cannot be itemised)."""
    from rebalance.plan import read_plan

    record = history.run(approval.run_id) if approval.run_id else None
    chosen = (record.extra or {}).get("previous") or {} if record is not None else {}
    if chosen.get("found_in") != "slack" or not chosen.get("used") or not chosen.get("plan_dir"):
        return None
    try:
        return read_plan(chosen["plan_dir"])
    except (RebalanceError, OSError, ValueError):
        return None
