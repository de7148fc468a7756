"""HTTP layer and composition root: the only package that knows kb, classifier and indexer."""
