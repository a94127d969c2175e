"""The fault-injection suite's parts: own servers, worker hosts, tallies, scenarios, reports.

``bench/faults.py`` runs the scenarios and prints their figures; ``tests/faults`` runs each in
its short form and asserts on them.
"""
