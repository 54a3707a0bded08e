"""The HY-Motion 1.0 weights' licence: its name (recorded in every take's metadata), the limits a
user must know before fetching the weights, and the gate `weights download` passes first.

The full text ships with the package: rigs/assets/body_model/LICENSE-TENCENT-HY-MOTION-1.0.txt.
"""

from __future__ import annotations

import sys
from typing import TextIO

MODEL_LICENSE = "Tencent HY-MOTION 1.0 Community License"
LICENSE_URL = "https://github.com/Tencent-Hunyuan/HY-Motion-1.0"

SUMMARY = (
    f"The HY-Motion 1.0 weights are under the {MODEL_LICENSE} ({LICENSE_URL};\n"
    "a copy ships as motionbridge/rigs/assets/body_model/LICENSE-TENCENT-HY-MOTION-1.0.txt):\n"
    "  - it does not apply in the European Union, the United Kingdom or South Korea: no use there;\n"
    "  - products or services with more than 1 million monthly active users need a separate\n"
    "    licence from Tencent;\n"
    "  - outputs may not be used to improve any other AI model."
)


class LicenseNotAccepted(Exception):
    """The user did not accept the model licence; nothing was fetched."""


def require_acceptance(accepted: bool, stdin: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """Print the licence's limits; return when accepted (the flag, or `yes` typed on a terminal),
    else raise LicenseNotAccepted."""
    stdin = stdin or sys.stdin
    stderr = stderr or sys.stderr
    print(SUMMARY, file=stderr)
    if accepted:
        print("licence accepted (--accept-license)", file=stderr)
        return
    if stdin.isatty():
        print("Do you accept the licence? Type yes to continue: ", end="", file=stderr, flush=True)
        answer = stdin.readline().strip().lower()
        if answer in ("y", "yes"):
            return
    raise LicenseNotAccepted(
        f"the {MODEL_LICENSE} was not accepted, nothing was downloaded; "
        "read it, then pass --accept-license (or answer yes on a terminal)"
    )
