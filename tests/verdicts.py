"""What a check's verdict says, for the tests of every lesson's checks."""

from mqlab.checks import Verdict


def right(v: Verdict) -> bool:
    """An acceptance."""
    return isinstance(v, Verdict) and v.ok is True and bool(v)


def wrong(v: Verdict, *words: str) -> bool:
    """A rejection whose hint mentions every one of ``words``."""
    return (isinstance(v, Verdict) and v.ok is False and not v
            and all(w in v.message for w in words))


def unattempted(v: Verdict) -> bool:
    """The verdict for a starter answer: not attempted yet."""
    return isinstance(v, Verdict) and v.ok is None and not v and "Not attempted" in repr(v)
