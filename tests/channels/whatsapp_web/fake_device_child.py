"""A stand-in for the neonize child process, speaking its pipe protocol, that misbehaves on
purpose: ``python fake_device_child.py MODE [RECORD_FILE]``.

Modes: ``works`` (pairs at once, answers everything, records sends to RECORD_FILE);
``hang`` (shows a QR code, then answers nothing); ``crash`` (shows a code, exits 3);
``segv`` (shows a code, dies of SIGSEGV); ``connected_then_crash`` (connects, exits 3 at
the first ping); ``stubborn`` (works, but ignores stop and its stdin closing); ``dead``
(exits before answering anything); ``mute_send`` (works, but records sends unanswered).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

MODE = sys.argv[1]
RECORD = sys.argv[2] if len(sys.argv) > 2 else None
JID = "237612345678:7@s.whatsapp.net"


def write(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def reply(request: dict[str, Any], **fields: Any) -> None:
    write({"ref": request["ref"], "ok": True, **fields})


def on_start(request: dict[str, Any]) -> None:
    reply(request)
    if MODE in ("works", "stubborn", "connected_then_crash", "mute_send"):
        write(
            {
                "event": "connected",
                "jid": request.get("jid") or JID,
                "phone": "+237612345678",
                "name": "Ada",
                "paired": request.get("jid") is None,
            }
        )
        return
    write({"event": "qr", "code": "2@fake,code"})
    if MODE == "crash":
        os._exit(3)
    if MODE == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)


def on_send(request: dict[str, Any]) -> None:
    if RECORD:
        with open(RECORD, "a", encoding="utf-8") as record:
            record.write(json.dumps(request) + "\n")
    if MODE == "mute_send":
        return
    message_id = f"3EB0{request['ref']:06d}"
    reply(request, id=message_id)
    write({"event": "receipt", "id": message_id, "status": "sent"})


def main() -> None:
    if MODE == "dead":
        sys.exit(1)
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if MODE == "hang" and op != "start":
            continue  # stuck: nothing is answered any more
        if op == "start":
            on_start(request)
        elif op == "ping":
            if MODE == "connected_then_crash":
                os._exit(3)
            reply(request, connected=True)
        elif op == "send":
            on_send(request)
        elif op == "download":
            reply(request, content="aGVsbG8=")
        elif op in ("stop", "logout") and MODE != "stubborn":
            reply(request)
            return
    if MODE == "stubborn":
        while True:  # deaf to everything but SIGKILL
            time.sleep(1)


if __name__ == "__main__":
    if MODE == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    main()
