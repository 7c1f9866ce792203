"""The pure core: the canonical model, the providers' parsers and tables, the
fold, and records as plain dicts. Plain functions over plain data: nothing here
imports Kafka, Faust or asyncio (tests/unit/test_layout.py holds it to that)."""
