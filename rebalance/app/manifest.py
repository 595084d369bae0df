"""The Slack app manifest an admin pastes once (api.slack.com/apps > Create New App >
From an app manifest)."""

from __future__ import annotations

import json
from typing import Any

from rebalance.publish import EVENT_TYPE, PART_EVENT_TYPE

from .approval import APPROVAL_EVENT_TYPE

__all__ = ["BOT_SCOPES", "manifest", "manifest_json"]

#: What the app and the publisher call, and why.
BOT_SCOPES = [
    "chat:write",  # post and update the plan and approval messages
    "channels:history",  # find a plan's message by its metadata (public channels)
    "groups:history",  # the same in private channels
    "channels:join",  # join a public channel on first publish
    "files:write",  # moves.csv and zones.csv in the plan's thread
    "commands",  # /rebalance
    "metadata.message:read",  # message_metadata_* events
]


def manifest(
    url: str | None, *, name: str = "rebalance", socket_mode: bool = False
) -> dict[str, Any]:
    """The manifest: bot user, ``/rebalance``, interactivity and events at ``url``
    (``https://HOST/slack/events``; not needed in Socket Mode), scopes, and the
    subscriptions to the plan messages' metadata."""
    command: dict[str, Any] = {
        "command": "/rebalance",
        "description": "See the shift, close or open a restaurant, re-plan, explain a zone",
        "usage_hint": "status [CITY] | close RESTAURANT_ID | open RESTAURANT_ID | plan | "
        "why ZONE_ID",
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {
        "bot_events": ["message_metadata_posted"],
        "metadata_subscriptions": [
            {"app_id": "*", "event_type": kind}
            for kind in (EVENT_TYPE, PART_EVENT_TYPE, APPROVAL_EVENT_TYPE)
        ],
    }
    if not socket_mode:
        assert url, "an HTTPS request URL is needed unless in Socket Mode"
        command["url"] = url
        interactivity["request_url"] = url
        events["request_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Courier rebalancing plans: approve them, change the shift.",
            "background_color": "#2c2d30",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_json(url: str | None, *, name: str = "rebalance", socket_mode: bool = False) -> str:
    """`manifest` as indented JSON."""
    return json.dumps(manifest(url, name=name, socket_mode=socket_mode), indent=2) + "\n"
