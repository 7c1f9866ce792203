"""Bytes <-> records: Avro single-object and Confluent framings, the codecs
compiled from schemas/, the schema registry client, the raw-receipt envelope,
and the encoders every step writes with."""
