"""dlr-streams: SMS delivery receipts from every provider, normalized and folded on Kafka."""

__version__ = "0.1.0"
