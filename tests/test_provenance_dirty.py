"""A result made from an uncommitted tree says so (the review of this session's benchmarks found a
result naming a commit that did not hold the code it ran)."""

from __future__ import annotations

from xner.provenance import git_dirty, provenance


def test_provenance_says_whether_the_tree_was_dirty():
    p = provenance()
    assert "git_dirty" in p and p["git_dirty"] in (True, False, None)
    assert p["git_dirty"] == git_dirty()
