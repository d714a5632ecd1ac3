"""Reference solutions for lesson 10 (kept out of the student notebook).

tests/test_checks_lesson10.py proves that every check accepts these.
"""

from __future__ import annotations

import copy

from mqlab.checks import lesson10 as _check

#: the time (s) from which the greenhouse sensor sends each reading as it makes it again
PREDICTION = 43.5

#: the live map's queue: keep only the newest position
QUEUE = {"capacity": 1, "overflow": "drop-head", "message_ttl": None}

#: queue or log, for each need of section 4
CHOICES = {"resize": "queue", "fraud": "log", "urgent": "queue", "ledger": "log",
           "teams": "log", "expire": "queue"}

#: the three designs of section 5
DESIGNS = copy.deepcopy(_check.REFERENCE)
