"""The Whoosh index over resolved cases, fed by the search outbox; built in the index issue."""
