"""知库 domain layer: cases, taxonomy, SLA, privacy, storage.

`kb` is the base layer: it never imports FastAPI, Whoosh or scikit-learn
(tests/test_architecture.py enforces it).
"""
