"""The reference legacy verifier behind dualrun's ``exec:`` adapter: ``python3 -m dualrun_legacy.exec``.

Protocol dualrun-exec/v1 (docs/exec-protocol.md): one JSON object per line. This process first writes
a hello line, then answers each request line ``{"id", "block", "env"}`` with one response line
``{"id", "verdict", "reason", "detail", "facts"}`` (or ``{"id", "error"}``), in order. Byte fields come as
lowercase hex. It exits when stdin closes.
"""

import json
import sys
import traceback

from . import KECCAK_IMPLEMENTATION, VERSION, verify_block


def _block_from_json(b):
    block = dict(b)
    block["blob"] = bytes.fromhex(b["blob"])
    mtx = b.get("miner_tx")
    if mtx is not None:
        block["miner_tx"] = dict(mtx, extra=bytes.fromhex(mtx["extra"]))
    return block


def main():
    out = sys.stdout
    out.write(json.dumps({"protocol": "dualrun-exec/v1", "name": "dualrun_legacy",
                          "version": f"{VERSION} (keccak: {KECCAK_IMPLEMENTATION})"}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            answer = verify_block(_block_from_json(req["block"]), req["env"])
            answer = dict(answer, id=req["id"])
        except Exception:  # the verifier failed: say so, keep serving
            answer = {"id": req.get("id"), "error": traceback.format_exc()}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
