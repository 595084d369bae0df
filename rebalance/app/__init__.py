"""The two-way Slack app (CONTRACT section 10): `rebalance serve` and what it needs.

Modules, from the wire inward:

- `server`: the HTTP server (waitress, WSGI) or Socket Mode; ``/healthz``; SIGTERM.
- `bolt`: the only module importing slack_bolt: request verification, listeners that
  ack first and work after, delivery de-duplication.
- `desk`: what a command or a click does (status, overrides, re-plans, decisions),
  with the Web API client and the history store; no Slack framework in it.
- `approval`: the approval message of a plan, posted by `rebalance run` when
  ``[slack] approval_channel`` is set, and its edits after a decision.
- `commands`: parsing ``/rebalance ...`` text; `messages`: mrkdwn and Block Kit
  helpers; `manifest`: the app manifest.

Importing this package imports none of them (the CLI stays fast).
"""
