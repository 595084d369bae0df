"""Views of a plan and of past runs: what people read.

``wording``   the shared vocabulary (percentages, shift windows, plurals, zone labels)
``terminal``  a plan in a terminal (rich) and as plain text
``html``      a plan in a notebook cell
``plots``     matplotlib figures of plans, scenarios and history
``history``   tables of past runs (`rebalance history`)

The Slack layout of a plan lives with the publisher (`rebalance.publish.blocks`).
Nothing here is imported by ``import rebalance``: each view loads its library
(rich, matplotlib) when used.
"""
