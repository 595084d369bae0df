"""``/rebalance`` slash-command text, parsed (pure: no Slack, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from .messages import code

__all__ = ["USAGE", "Command", "CommandError", "parse"]

USAGE = (
    "Valid commands:\n"
    "• `/rebalance status [CITY]`: the shift's plan, its message and the overrides\n"
    "• `/rebalance close RESTAURANT_ID`: close a restaurant for this shift, then re-plan\n"
    "• `/rebalance open RESTAURANT_ID`: open it again, then re-plan\n"
    "• `/rebalance plan`: re-plan the shift now\n"
    "• `/rebalance why ZONE_ID`: why the zone is short or receives couriers, what one more "
    "courier is worth there"
)

#: Commands that change the shift: approvers only.
ACTING = frozenset({"close", "open", "plan"})


@dataclass(frozen=True)
class Command:
    """One parsed command: ``name`` (help, status, close, open, plan, why) and its argument."""

    name: str
    arg: str | None = None

    @property
    def acts(self) -> bool:
        """Whether the command changes the shift (approvers only)."""
        return self.name in ACTING


class CommandError(ValueError):
    """Text that is not a valid command; ``str()`` is the mrkdwn reply naming what is valid."""


def parse(text: str) -> Command:
    """Parse the text after ``/rebalance``; raises `CommandError` naming what is valid.

    Slack sends a command's text with ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and
    ``&gt;`` (as all message text): they are read back first, or a restaurant
    ``R&B-1`` was looked up as ``R&amp;B-1`` and refused as unknown."""
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    words = text.split()
    if not words or words[0].lower() in {"help", "-h", "--help"}:
        return Command("help")
    name, args = words[0].lower(), words[1:]
    if name == "status":
        # the rest is the city's name, which may have spaces ("New York"): "status New
        # York" was refused as two cities while the unknown-city reply suggested it
        return Command("status", " ".join(args) or None)
    if name in {"close", "open"}:
        if len(args) != 1:
            got = code(" ".join(args)) if args else "nothing"
            raise CommandError(f"`{name}` takes one RESTAURANT_ID, got {got}.\n{USAGE}")
        return Command(name, args[0])
    if name == "why":
        if len(args) != 1:
            got = code(" ".join(args)) if args else "nothing"
            raise CommandError(f"`why` takes one ZONE_ID, got {got}.\n{USAGE}")
        return Command("why", args[0])
    if name == "plan":
        if args:
            raise CommandError(f"`plan` takes no argument, got {code(' '.join(args))}.\n{USAGE}")
        return Command("plan")
    raise CommandError(f"Unknown command {code(words[0][:80])}.\n{USAGE}")
