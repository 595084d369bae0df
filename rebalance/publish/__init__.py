"""Publish a plan to a Slack channel: one parent message per (city, shift, channel),
kept current, never posted twice (CONTRACT section 5).

``identity``  plan key, content hash, snapshot: the one rule for a plan's identity
``blocks``    the Block Kit layout of a plan (parent, thread parts, files)
``limits``    Slack's limits on a message, and the checker
``changes``   what changed between two versions, for the thread
``dryrun``    what ``--dry-run`` prints
``protocol``  the exactly-once publisher and its catalogue of Slack errors

The Slack Web API itself is reached through `rebalance.slack` only.
"""

from __future__ import annotations

from .blocks import build_files, build_messages
from .changes import describe_changes
from .dryrun import block_kit_builder_url, dry_run_document
from .identity import EVENT_TYPE, PART_EVENT_TYPE, content_hash, plan_key, snapshot
from .limits import MAX_MESSAGE_CHARS, message_problems
from .protocol import PublishResult, SlackApi, publish

__all__ = [
    "EVENT_TYPE",
    "MAX_MESSAGE_CHARS",
    "PART_EVENT_TYPE",
    "PublishResult",
    "SlackApi",
    "block_kit_builder_url",
    "build_files",
    "build_messages",
    "content_hash",
    "describe_changes",
    "dry_run_document",
    "message_problems",
    "plan_key",
    "publish",
    "snapshot",
]
