"""``meetingd audit verify`` and ``meetingd minutes verify FILE``: print what the record
services found; exit 0 when all is well, 1 when not."""

from __future__ import annotations

import argparse
import sys

from meetingd.app import build
from meetingd.config import Config


async def run(args: argparse.Namespace, config: Config) -> int:
    if args.command == "audit":
        return await _audit(config)
    return await _minutes(args, config)


async def _audit(config: Config) -> int:
    from meetingd.services.record import verify_audit

    parts = build(config)
    try:
        check = await verify_audit(parts.store)
    finally:
        await parts.store.close()
    if check.ok:
        print(f"audit log intact: {check.rows} rows, chain head at row {check.head}")
        return 0
    for p in check.problems:
        where = f"row {p.n}" + (f" (id {p.id})" if p.id is not None else "")
        print(f"{where}: {p.problem}", file=sys.stderr)
    print(f"audit log NOT intact: {len(check.problems)} problem(s) in {check.rows} rows",
          file=sys.stderr)  # fmt: skip
    return 1


async def _minutes(args: argparse.Namespace, config: Config) -> int:
    from meetingd.services.minutes import verify_pdf

    report = await verify_pdf(args.file.read_bytes(), config)
    for line in report.lines:
        print(line)
    return 0 if report.ok else 1
