"""What ``--dry-run`` prints: the exact payloads in posting order, as JSON, with a Block
Kit Builder link previewing the parent."""

from __future__ import annotations

import json
import urllib.parse
from typing import TYPE_CHECKING, Any

from rebalance.escape import json_dumps

if TYPE_CHECKING:
    from .protocol import PublishResult

__all__ = ["block_kit_builder_url", "dry_run_document"]


def block_kit_builder_url(payload: dict[str, Any]) -> str:
    """A Block Kit Builder link previewing a payload's blocks."""
    doc = json.dumps(
        {"blocks": payload.get("blocks", [])}, ensure_ascii=False, separators=(",", ":")
    )
    return "https://app.slack.com/block-kit-builder#" + urllib.parse.quote(doc, safe="")


def dry_run_document(result: PublishResult) -> str:
    """What --dry-run prints: the payloads in posting order and a preview link, as JSON."""
    entries = []
    for i, payload in enumerate(result.payloads):
        method = "files_upload_v2" if "file_uploads" in payload else "chat.postMessage"
        entries.append({"method": method, "in_thread": i > 0, "payload": payload})
    doc = {
        "channel": result.channel,
        "plan_key": result.plan_key,
        "content_hash": result.content_hash,
        "payloads": entries,
        "block_kit_builder": block_kit_builder_url(result.payloads[0]) if result.payloads else None,
    }
    return json_dumps(doc, indent=2) + "\n"
