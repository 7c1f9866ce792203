"""Coverage-guided fuzzing of every provider normalizer with atheris
(libFuzzer): any input must give a Receipt or a ReceiptError, nothing else.
Run by test_fuzz.py in a subprocess, bounded by libFuzzer's -runs; by hand:

    python tests/reliability/atheris_normalizers.py -runs=100000 -max_len=4096 CORPUS_DIR
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from streams.core import providers
    from streams.core.model import Receipt, ReceiptError

PARSERS = [(name, providers.parser(name)) for name in providers.names()]
OPTIONS = providers.Options(received_at=1_773_100_000_000_000)


def one_input(data: bytes) -> None:
    for name, parse in PARSERS:
        try:
            receipt = parse(data, OPTIONS)
        except ReceiptError:
            continue
        if not isinstance(receipt, Receipt) or receipt.provider != name or not receipt.message_id:
            raise AssertionError(f"{name} returned {receipt!r} for {data!r}")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
