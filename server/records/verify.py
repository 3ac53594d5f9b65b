"""The ``verify-chain`` command: check every patient's hash chain (or one) and name the first
broken link. Exit status 0 when all chains are intact, 1 otherwise.

Run as ``python -m server.records.verify [--patient UUID]``; ``server/cli.py`` registers it as
``telessaude verify-chain``.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Callable

from server.db.engine import make_engine, make_sessions
from server.records.chain import patients_with_entries, verify_chain
from server.settings import Settings


async def verify_chains(
    database_url: str, patient_id: uuid.UUID | None = None, out: Callable[[str], None] = print
) -> int:
    engine = make_engine(database_url)
    try:
        async with make_sessions(engine)() as db:
            patients = [patient_id] if patient_id else await patients_with_entries(db)
            broken = 0
            for pid in patients:
                report = await verify_chain(db, pid)
                link = report.first_broken
                if link is None:
                    out(f"ok      patient={pid} entries={report.entries_checked}")
                else:
                    broken += 1
                    out(
                        f"BROKEN  patient={pid} seq={link.seq} entry={link.entry_id} "
                        f"reason={link.reason}"
                    )
            out(f"{len(patients)} chain(s) checked, {broken} broken")
            return 1 if broken else 0
    finally:
        await engine.dispose()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patient", type=uuid.UUID, help="check only this patient's chain")


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or Settings()
    return asyncio.run(verify_chains(settings.effective_database_url, args.patient))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify-chain", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
