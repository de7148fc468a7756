"""The Whoosh index over resolved cases, fed by the search outbox (derived, rebuildable)."""

from indexer.whoosh_index import Hit, IndexUnavailable, WhooshIndex

__all__ = ["Hit", "IndexUnavailable", "WhooshIndex"]
