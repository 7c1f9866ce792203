"""Kafka plumbing shared by the worker and the operators' tools: topic names
and specs, topic creation, the client I/O helpers, the embedded broker and
worker processes."""
