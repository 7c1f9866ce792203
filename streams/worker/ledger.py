"""How far each source partition has really been processed, so that no commit
runs ahead of it.

Faust commits the end of the first run of consecutive offsets in its acked
list, and fills the offsets it never delivered ("gaps", meant for transaction
markers) as if acked. So when records are fetched and then dropped on the way
to the agents (a rebalance's buffers, a skip, a seek), the next run of acks
commits straight past them, and they are lost for good: two CI runs lost the
states of about 2,500 messages that way, one range of about 300 offsets per
raw partition, each right after a worker was dropped from the group.

The ledger keeps, per partition, the lowest offset it cannot vouch for
(`next`). Every offset below it was acked after processing, or the fetcher
showed it holds no record: a fetch that starts past the position we sought to,
or a jump inside a fetched batch (transaction markers, aborted records,
retention). A commit is capped at `next`.

The agents process a record only if it comes next (`admit`); one past a
skipped record is kept out, and the partition is read again from `next`
(`stuck`). So a partition is processed in offset order even when records go
missing on the way, and the changes are those of the offline fold.

Pure bookkeeping: no Kafka here. The fence's `SeekGuard` and `StaleAcks` feed
it, the commit protocol asks `admit`, and the consumer's commit asks `cap`
(`streams.worker.commit`, `streams.worker.faust_compat`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

TP = TypeVar("TP", bound=Hashable)  # a topic partition: Faust's and aiokafka's hash alike

# How long acks may stand above a partition's `next` before it is read again.
# Acks of one partition come in offset order, so any wait is a passed-over
# record; the grace only lets a rebalance that is already under way go first.
GRACE = 2.0
# How long records fetched past `next` may go unprocessed, with nothing after
# them to show they were skipped, before the partition is read again. Far
# longer than a full stream buffer takes to drain; a false alarm costs a
# re-read, never a record.
IDLE = 20.0


@dataclass(slots=True)
class Partition:
    next: int | None  # lowest offset neither processed nor known to hold no record
    committed: int | None  # a commit never goes back below this
    fetch_next: int | None  # where the fetcher reads next, when known
    pending: set[int] = field(default_factory=set)  # processed offsets above `next`
    absent: list[tuple[int, int]] = field(default_factory=list)  # [start, end) holding no record
    stuck_at: int | None = None  # `next` when acks or fetches were first seen standing above it
    stuck_since: float = 0.0
    kept_out: int | None = None  # a record `admit` kept out, because the one at `missing` had not come
    missing: int = 0
    reread_from: int | None = None  # `next` at the last re-read, and when
    reread_at: float = 0.0


class OffsetLedger(Generic[TP]):
    def __init__(self, grace: float = GRACE, idle: float = IDLE) -> None:
        self.grace = grace
        self.idle = idle
        self.partitions: dict[TP, Partition] = {}

    def forget(self) -> None:
        """A rebalance: nothing is vouched for until the partition is sought again."""
        self.partitions.clear()

    def sought(self, tp: TP, offset: int | None) -> None:
        """The consumer was moved to `offset`, the committed one or, with none,
        the earliest (None: unknown, the first record fetched is the start).
        Everything from there on is read again, so that is where the ledger
        starts."""
        self.partitions[tp] = Partition(next=offset, committed=offset, fetch_next=offset)

    def reread(self, tp: TP, now: float) -> int | None:
        """Where to seek `tp` to read its skipped records again."""
        part = self.partitions.get(tp)
        if part is None or part.next is None:
            return None
        part.fetch_next = part.next
        part.stuck_at = part.kept_out = None
        part.reread_from, part.reread_at = part.next, now
        return part.next

    def admit(self, tp: TP, offset: int, expect: dict[TP, int]) -> bool:
        """Whether the record at `offset` may be processed now: it is the next
        of its partition (or past offsets that hold no record), or one
        processed before and read again. `expect` carries the positions
        within one batch, whose records are not acked yet. A record kept out
        is read again, from `next`, after the ones before it: a partition is
        always processed in offset order, so the changes come out as the
        offline fold has them."""
        expected = expect.get(tp)
        if expected is None:
            part = self.partitions.get(tp)
            if part is None or part.next is None:
                return True  # not vouched for yet: the commit cap still holds it
            expected = part.next
        if offset == expected:
            expect[tp] = offset + 1
            return True
        if offset < expected:
            return True  # processed before: folding it again changes nothing
        part = self.partitions[tp]
        if self._is_absent(part, expected, offset):
            expect[tp] = offset + 1
            return True
        if part.kept_out is None:
            part.kept_out, part.missing = offset, expected
        return False

    def fetched(self, tp: TP, offsets: Sequence[int]) -> None:
        """The fetcher returned these records of `tp`, in order."""
        part = self.partitions.get(tp)
        if part is None or not offsets:
            return
        first, last = offsets[0], offsets[-1]
        if part.next is None:
            part.next = first
        expected = part.fetch_next
        if expected is not None and first > expected:
            self._absent(part, expected, first)
        if last - first + 1 != len(offsets):
            previous = first
            for offset in offsets:
                if offset > previous + 1:
                    self._absent(part, previous + 1, offset)
                previous = offset
        part.fetch_next = last + 1
        self._advance(part)

    def acked(self, tp: TP, offset: int) -> None:
        """The record at `offset` was processed and its outputs delivered."""
        part = self.partitions.get(tp)
        if part is None or part.next is None:
            return
        if offset == part.next and not part.pending and not part.absent:
            part.next = offset + 1  # the usual case
            if part.kept_out is not None and offset >= part.missing:
                part.kept_out = None  # the missing record came after all (read again)
            return
        if offset >= part.next:
            part.pending.add(offset)
            self._advance(part)

    def cap(self, tp: TP, offset: int) -> int | None:
        """What may be committed of `offset` (None: nothing new)."""
        part = self.partitions.get(tp)
        if part is None or part.next is None:
            return None
        capped = min(offset, part.next)
        if part.committed is not None and capped <= part.committed:
            return None
        return capped

    def committed(self, tp: TP, offset: int) -> None:
        part = self.partitions.get(tp)
        if part is not None:
            part.committed = offset

    def stuck(self, now: float) -> Iterator[tuple[TP, int, int]]:
        """(tp, next, the offset seen past it) for each partition to read
        again from `next`:
        - records past `next` were kept out (`admit`): at once, then at most
          once per grace period while `next` stays;
        - acks stood above `next` for the grace period;
        - records were fetched past `next` and `next` has not moved for the
          idle period (the last records fetched went missing)."""
        for tp, part in self.partitions.items():
            n = part.next
            if n is None:
                continue
            if part.kept_out is not None:
                if part.reread_from != n or now - part.reread_at >= self.grace:
                    yield tp, n, part.kept_out
                continue
            fetched_past = part.fetch_next is not None and part.fetch_next > n
            if not part.pending and not fetched_past:
                part.stuck_at = None
                continue
            if part.stuck_at != n:
                part.stuck_at, part.stuck_since = n, now
            elif part.pending and now - part.stuck_since >= self.grace:
                yield tp, n, min(part.pending)
            elif now - part.stuck_since >= self.idle:
                yield tp, n, part.fetch_next or n

    @staticmethod
    def _is_absent(part: Partition, start: int, end: int) -> bool:
        """Whether the fetcher showed that [start, end) holds no record."""
        position = start
        while position < end:
            for low, high in part.absent:
                if low <= position < high:
                    position = high
                    break
            else:
                return False
        return True

    @staticmethod
    def _absent(part: Partition, start: int, end: int) -> None:
        if part.next is not None and end <= part.next:
            return
        part.absent.append((start, end))

    @staticmethod
    def _advance(part: Partition) -> None:
        n = part.next
        if n is None:
            return
        pending, absent = part.pending, part.absent
        while True:
            if n in pending:
                pending.discard(n)  # only offsets >= next are ever added: none is left below
                n += 1
                continue
            for start, end in absent:
                if start <= n < end:
                    n = end
                    break
            else:
                break
        if n != part.next:
            if part.kept_out is not None and n > part.missing:
                part.kept_out = None  # the missing record came after all (read again)
            if absent:
                part.absent = [(start, end) for start, end in absent if end > n]
        part.next = n
