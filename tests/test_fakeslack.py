"""The fake Slack server itself: it must behave like Slack where the publisher relies on it."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from fakeslack import TOKEN, FakeSlack, block_problems

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    fake: FakeSlack, method: str, *, form: bool = False, token: str = TOKEN, **params: Any
) -> dict:
    """POST one method as JSON (or as a form), the way slack_sdk does."""
    if form:
        body = urllib.parse.urlencode(params).encode()
        ctype = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(params).encode()
        ctype = "application/json;charset=utf-8"
    request = urllib.request.Request(
        fake.url + method,
        data=body,
        headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"},
    )
    with _NO_PROXY.open(request, timeout=5) as response:
        return json.loads(response.read())


def test_json_and_form_bodies_and_auth(fake_slack):
    """Both body encodings work; a wrong token is invalid_auth, none is not_authed."""
    assert call(fake_slack, "chat.postMessage", channel="C0PLANS", text="a")["ok"]
    assert call(fake_slack, "chat.postMessage", form=True, channel="C0PLANS", text="b")["ok"]
    assert [m["text"] for m in fake_slack.messages()] == ["a", "b"]
    assert call(fake_slack, "auth.test", token="xoxb-nope")["error"] == "invalid_auth"
    assert call(fake_slack, "auth.test", token="")["error"] == "not_authed"


def test_history_pages_and_shows_metadata_only_when_asked(fake_slack):
    """conversations.history: newest first, cursor paging, metadata with include_all_metadata."""
    for i in range(5):
        meta = {"event_type": "t", "event_payload": {"i": i}}
        call(fake_slack, "chat.postMessage", channel="C0PLANS", text=str(i), metadata=meta)
    seen, cursor = [], ""
    while True:
        page = call(
            fake_slack,
            "conversations.history",
            form=True,
            channel="C0PLANS",
            limit=2,
            include_all_metadata="1",
            cursor=cursor,
        )
        seen += [m["metadata"]["event_payload"]["i"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [4, 3, 2, 1, 0]
    plain = call(fake_slack, "conversations.history", channel="C0PLANS")
    assert all("metadata" not in m for m in plain["messages"])


def test_threads_updates_and_membership(fake_slack):
    """Replies stay out of history; chat.update edits in place; non-members are refused."""
    ts = call(fake_slack, "chat.postMessage", channel="C0PLANS", text="parent")["ts"]
    call(fake_slack, "chat.postMessage", channel="C0PLANS", text="reply", thread_ts=ts)
    assert call(fake_slack, "chat.update", channel="C0PLANS", ts=ts, text="edited")["ok"]
    [parent] = fake_slack.messages()
    assert parent["text"] == "edited" and [r["text"] for r in fake_slack.replies(ts)] == ["reply"]
    replies = call(fake_slack, "conversations.replies", channel="C0PLANS", ts=ts)["messages"]
    assert [m["text"] for m in replies] == ["edited", "reply"]
    assert (
        call(fake_slack, "chat.postMessage", channel="C0PUBLIC", text="x")["error"]
        == "not_in_channel"
    )
    assert (
        call(fake_slack, "chat.postMessage", channel="G0PRIVATE", text="x")["error"]
        == "channel_not_found"
    )
    assert call(fake_slack, "conversations.join", channel="C0PUBLIC")["ok"]
    assert (
        call(fake_slack, "chat.postMessage", channel="C0ARCHIVED", text="x")["error"]
        == "is_archived"
    )


def test_upload_flow_shares_files_into_a_thread(fake_slack):
    """getUploadURLExternal, a POST to the URL, then completeUploadExternal posts the files."""
    ts = call(fake_slack, "chat.postMessage", channel="C0PLANS", text="parent")["ts"]
    got = call(fake_slack, "files.getUploadURLExternal", form=True, filename="m.csv", length=3)
    with _NO_PROXY.open(urllib.request.Request(got["upload_url"], data=b"a,b"), timeout=5) as r:
        assert r.status == 200
    files = json.dumps([{"id": got["file_id"], "title": "Moves [x]"}])
    done = call(
        fake_slack,
        "files.completeUploadExternal",
        form=True,
        files=files,
        channel_id="C0PLANS",
        thread_ts=ts,
        initial_comment="here",
    )
    assert done["ok"]
    [reply] = fake_slack.replies(ts)
    assert reply["text"] == "here" and reply["files"][0]["title"] == "Moves [x]"


def test_block_limits_are_enforced(fake_slack):
    """Too many blocks, two tables or an over-long section: invalid_blocks, as Slack answers."""
    table = {"type": "table", "rows": [[{"type": "raw_text", "text": "a"}]]}
    assert block_problems([table, table])
    assert block_problems([{"type": "divider"}] * 51)
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    answer = call(fake_slack, "chat.postMessage", channel="C0PLANS", text="t", blocks=[long])
    assert answer["error"] == "invalid_blocks" and answer["response_metadata"]["messages"]
    many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 5
    assert (
        call(fake_slack, "chat.postMessage", channel="C0PLANS", text="t", blocks=many)["error"]
        == "msg_too_long"
    )


@pytest.mark.parametrize("kind", ["ratelimit", "http500", "error"])
def test_switches_apply_once(fake_slack, kind):
    """A switch misbehaves for the next call only, then the method works again."""
    fake_slack.fail("auth.test", kind, error="fatal_error", retry_after=1)
    if kind == "error":  # ok:false answers come with HTTP 200
        assert call(fake_slack, "auth.test")["error"] == "fatal_error"
    else:
        with pytest.raises(urllib.error.HTTPError) as info:
            call(fake_slack, "auth.test")
        info.value.close()
        assert info.value.code == (429 if kind == "ratelimit" else 500)
    assert call(fake_slack, "auth.test")["ok"]
