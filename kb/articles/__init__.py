"""Knowledge articles: curation (service), reading with audience rules (queries),
Markdown rendering, version diffs, gaps, stale review and Markdown import/export."""
