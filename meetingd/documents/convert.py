"""Office documents (DOCX, ODT, XLSX, PPTX, ...) to PDF with LibreOffice headless.

Each conversion runs ``soffice`` in a subprocess of its own: a throw-away profile directory,
a memory ceiling and CPU time from ``prlimit``, a wall-clock deadline after which its whole
process group is killed, and no network: it runs in a fresh, empty network namespace
(``unshare -n``) when the server may create one (root, or user namespaces allowed); where it
may not, the subprocess still has no reason to reach the network, and the log says so once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

logger = logging.getLogger(__name__)

#: Extensions converted, by what LibreOffice reads.
OFFICE = frozenset(
    {".docx", ".doc", ".odt", ".rtf", ".xlsx", ".xls", ".ods", ".pptx", ".ppt", ".odp"}
)


class ConversionError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Converter:
    soffice: str = "soffice"
    seconds: float = 120.0
    memory_bytes: int = 4 * 1024**3

    def available(self) -> bool:
        return shutil.which(self.soffice) is not None

    async def to_pdf(self, src: Path, work: Path) -> Path:
        """Convert ``src`` (in the scratch dir ``work``) to PDF; the PDF's path."""
        exe = shutil.which(self.soffice)
        if exe is None:
            raise ConversionError(
                "converter_missing",
                "LibreOffice (soffice) is not installed on this server; upload a PDF instead",
            )
        out = work / "converted"
        out.mkdir()
        profile = work / "profile"
        cmd = [
            *_isolation(),
            "prlimit",
            f"--as={self.memory_bytes}",
            f"--cpu={int(self.seconds) + 1}",
            "--",
            exe,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(src),
        ]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "SAL_USE_VCLPLUGIN": "svp",
        }
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
            start_new_session=True,
        )
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), self.seconds)
        except TimeoutError:
            _kill_group(proc.pid)
            await proc.wait()
            raise ConversionError(
                "conversion_failed", f"the conversion took longer than {self.seconds:g} s"
            ) from None
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
                await proc.wait()
        pdf = out / (src.stem + ".pdf")
        if proc.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            tail = output.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            logger.info("soffice failed (%s): %s", proc.returncode, tail[0])
            raise ConversionError(
                "conversion_failed", "LibreOffice could not convert the document to PDF"
            )
        return pdf


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@cache
def _isolation() -> tuple[str, ...]:
    """``unshare -n`` when it works here (checked once), else nothing."""
    exe = shutil.which("unshare")
    if exe is not None:
        try:
            done = subprocess.run([exe, "-n", "true"], capture_output=True, timeout=5, check=False)
            if done.returncode == 0:
                return (exe, "-n")
        except (OSError, subprocess.TimeoutExpired):
            pass
    logger.warning("cannot create a network namespace: LibreOffice runs with the host network")
    return ()


def network_isolated() -> bool:
    """Whether conversions run without a network (for the health report and the tests)."""
    return bool(_isolation())
