"""Drives a C2SP tlog-witness with aics-witness's own log-side client
(aics_witness.feeder.WitnessClient), for cli/tests/witness_interop.rs.

Input (a JSON file named by argv[1]):
  {"url": "...", "vkey": "<witness cosignature vkey>",
   "steps": [{"note": "<signed checkpoint note>",
              "proofs": {"<old>": ["<b64 hash>", ...], ...},   # proof(old, size) by old
              "fixed": [old, ["<b64 hash>", ...]] or null,      # a fixed (old, proof) pair
              "fresh_client": false}]}
Output: one JSON line per step, {"lines": "<cosignature lines>"} or
{"error": "<exception class>", "status": <HTTP status or null>, "message": "..."}.
A step with "fresh_client" uses a new client that knows nothing of the witness.
"""

import base64
import json
import sys

from aics_witness.feeder import FeederError, WitnessClient


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)

    def new_client() -> WitnessClient:
        return WitnessClient(plan["url"], plan["vkey"], max_attempts=1, timeout=10.0)

    client = new_client()
    for step in plan["steps"]:
        if step.get("fresh_client"):
            client.close()
            client = new_client()
        proofs = {int(old): [base64.b64decode(h) for h in hs] for old, hs in step["proofs"].items()}

        def proof(old: int, new: int, proofs=proofs) -> list[bytes]:
            return proofs[old]

        source = proof
        if step.get("fixed") is not None:
            old, hashes = step["fixed"]
            source = (old, [base64.b64decode(h) for h in hashes])
        try:
            lines = client.submit(step["note"].encode("utf-8"), source)
            print(json.dumps({"lines": lines}), flush=True)
        except FeederError as e:
            print(json.dumps({
                "error": type(e).__name__,
                "status": getattr(e, "status", None),
                "message": str(e),
            }), flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
