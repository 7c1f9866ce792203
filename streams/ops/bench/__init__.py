"""`dlr bench`: figures, never pass/fail. Core (one core, no broker), memory per
state, and end to end through the embedded broker against two references run
on the same broker and records: the ceiling (a bare confluent-kafka
consume-produce loop) and the peer (a plain Faust agent with a Table)."""
