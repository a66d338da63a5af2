"""The process of one real linked-device session: neonize (whatsmeow) behind a JSON pipe.

Run as ``python -m chatgate.channels.whatsapp_web_neonize_child`` by
:class:`~chatgate.channels.whatsapp_web_neonize.NeonizeWebDriver`, one process per session,
so that whatsmeow hanging (a ``connect()`` that never returns cannot even be stopped) or
crashing takes down this process only: the worker's watchdog kills it.

Wire: one JSON object a line. The parent writes commands ``{"ref", "op", ...}`` with ``op``
``start`` (``store``, ``jid``, ``proxy``), ``send`` (``to``, ``kind``, ``text``, ``extra``,
``media`` base64, ``seconds``), ``download`` (``media_id``), ``ping``, ``stop`` and
``logout``; each is answered ``{"ref", "ok": true, ...}`` or ``{"ref", "ok": false, "error",
"detail", "retryable"}``. The child writes events ``{"event": ...}``: ``qr`` (``code``),
``connected`` (``jid``, ``phone``, ``name``, ``paired``), ``message``, ``receipt``,
``logged_out`` and ``closed`` (``reason``, ``detail``); nothing comes after ``closed`` or
``logged_out``. Anything else the libraries print goes to stderr, never into the pipe.

Commands run on a few threads, so that a long upload does not delay a ping; a ping asks
whatsmeow whether it is connected, which waits on the lock a stuck connection holds: a
stuck child leaves pings unanswered, and the parent kills it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from neonize.client import NewClient, ProxySettings
from neonize.events import (
    ClientOutdatedEv,
    ConnectedEv,
    ConnectFailureEv,
    DisconnectedEv,
    LoggedOutEv,
    MessageEv,
    PairStatusEv,
    ReceiptEv,
    StreamErrorEv,
    StreamReplacedEv,
    TemporaryBanEv,
)
from neonize.exc import NeonizeError
from neonize.proto.Neonize_pb2 import JID
from neonize.utils.enum import MediaType
from neonize.utils.jid import Jid2String

from chatgate.channels import whatsapp_web_neonize_messages as wa

log = logging.getLogger("chatgate.neonize_child")
# How long stop and logout wait for whatsmeow before the process ends anyway (seconds).
LAST_WORDS_SECONDS = 2.0
# whatsmeow's events that end the connection, and the reason reported.
CLOSING = {
    DisconnectedEv: "connection_lost",
    StreamReplacedEv: "stream_replaced",
    ConnectFailureEv: "connect_failed",
    TemporaryBanEv: "temporary_ban",
    ClientOutdatedEv: "client_outdated",
    StreamErrorEv: "stream_error",
}


class Failure(Exception):
    """A command refused: the answer's ``error``, ``detail`` and ``retryable``."""

    def __init__(self, error: str, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.error = error
        self.detail = detail
        self.retryable = retryable


class Pipe:
    """The protocol's stdout, written whole lines at a time from any thread."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lock = threading.Lock()
        self.ended = False

    def write(self, message: dict[str, Any]) -> None:
        """Write one message (events after the last one are dropped)."""
        line = json.dumps(message, separators=(",", ":")) + "\n"
        with self.lock:
            if self.ended and "event" in message:
                return
            if message.get("event") in ("closed", "logged_out"):
                self.ended = True
            self.out.write(line)
            self.out.flush()


class Session:
    """One device's neonize client, driven by the parent's commands."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.client: NewClient | None = None
        self.paired = False  # started without a device: a successful pairing makes one
        self.connected = threading.Event()

    # -- commands ---------------------------------------------------------------------------

    def start(self, store: str, jid: str | None, proxy: str | None) -> dict[str, Any]:
        """Open the device store and connect on a thread of its own (whatsmeow's connect
        returns only when the connection ends)."""
        if self.client is not None:
            raise Failure("already_started", "this process runs one connection", retryable=False)
        device = wa.parse_jid(jid) if jid else None
        self.paired = device is None
        client = NewClient(store, jid=device, new_device=device is None)
        client.event.qr(self._on_qr)
        client.event(ConnectedEv)(self._on_connected)
        client.event(PairStatusEv)(self._on_pair_status)
        client.event(LoggedOutEv)(lambda _, __: self.pipe.write({"event": "logged_out"}))
        client.event(MessageEv)(self._on_message)
        client.event(ReceiptEv)(self._on_receipt)
        for kind, reason in CLOSING.items():
            client.event(kind)(self._closer(reason))
        self.client = client
        settings = ProxySettings(proxy_address=proxy) if proxy else None
        threading.Thread(target=self._connect, args=(client, settings), daemon=True).start()
        return {}

    def _connect(self, client: NewClient, settings: Any) -> None:
        try:
            client.connect(settings)
        except NeonizeError as error:
            detail = str(error)
            reason = "unreachable" if "dial" in detail else "connect_failed"
            self.pipe.write({"event": "closed", "reason": reason, "detail": detail})
            return
        except Exception as error:  # the library broke: say so, the parent ends us
            self.pipe.write({"event": "closed", "reason": "driver_error", "detail": repr(error)})
            return
        self.pipe.write({"event": "closed", "reason": "closed", "detail": ""})

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a message; the platform's id (whatsmeow returns once the server has it)."""
        client = self._working()
        to = wa.recipient(str(request["to"]))
        kind = str(request["kind"])
        extra: dict[str, Any] = dict(request.get("extra") or {})
        media = base64.b64decode(request["media"]) if request.get("media") else None
        if kind in ("text", "location", "contact"):
            message = wa.plain_message(kind, request.get("text"), extra, to)
        elif kind == "reaction":
            message = client.build_reaction(
                to, to, str(extra["message_id"]), str(extra.get("emoji") or "")
            )
        elif media is None:
            raise ValueError(f"{kind}: the file is missing")
        else:
            message = self._media_message(client, kind, media, extra, request)
        context = wa.quoting(extra, to)
        if context is not None and kind in ("image", "video", "document", "audio"):
            getattr(message, f"{kind}Message").contextInfo.MergeFrom(context)
        return {"id": client.send_message(to, message).ID}

    @staticmethod
    def _media_message(
        client: NewClient, kind: str, media: bytes, extra: dict[str, Any], request: dict[str, Any]
    ) -> Any:
        caption = extra.get("caption") or None
        if kind == "image":
            return client.build_image_message(media, caption=caption)
        if kind == "video":
            return client.build_video_message(media, caption=caption)
        if kind == "document":
            return client.build_document_message(
                media,
                caption=caption,
                filename=extra.get("filename") or "file",
                mimetype=extra.get("mime_type") or None,
            )
        if kind == "audio":
            upload = client.upload(media, MediaType.MediaAudio)
            mime_type = str(extra.get("mime_type") or "audio/mpeg")
            ptt = bool(extra.get("ptt"))
            return wa.voice_message(upload, int(request.get("seconds") or 0), mime_type, ptt)
        raise ValueError(f"kind: {kind} cannot be sent")

    def download(self, media_id: str) -> dict[str, Any]:
        """An inbound file, downloaded and decrypted; base64."""
        content = self._working().download_any(wa.media_message(media_id))
        return {"content": base64.b64encode(content or b"").decode("ascii")}

    def ping(self) -> dict[str, Any]:
        """Whether whatsmeow says it is connected (waits while it is stuck)."""
        if self.client is None or not self.connected.is_set():
            return {"connected": False}
        return {"connected": bool(self.client.is_connected)}

    def finish(self, logout: bool) -> dict[str, Any]:
        """Log out (whatsmeow forgets the device) or disconnect, waiting only so long."""
        client = self.client
        if client is None:
            return {}
        done = threading.Event()
        failure: list[str] = []

        def last_words() -> None:
            try:
                client.logout() if logout else client.disconnect()
            except Exception as error:
                failure.append(str(error))
            finally:
                done.set()

        threading.Thread(target=last_words, daemon=True).start()
        if not done.wait(LAST_WORDS_SECONDS):
            raise Failure("timeout", "the platform did not answer", retryable=True)
        if failure:
            raise Failure("logout_failed" if logout else "stop_failed", failure[0], retryable=True)
        return {}

    def _working(self) -> NewClient:
        if self.client is None or not self.connected.is_set():
            raise Failure("not_connected", "the device is not connected", retryable=True)
        return self.client

    # -- events ----------------------------------------------------------------------------

    def _on_qr(self, _: NewClient, code: bytes) -> None:
        # A code shown means a pairing: the device connected next is a new one (even when a
        # device was named, if the store had lost it).
        self.paired = True
        self.pipe.write({"event": "qr", "code": code.decode()})

    def _on_connected(self, client: NewClient, _: ConnectedEv) -> None:
        me = client.me if client.me is not None and client.me.JID.User else client.get_me()
        jid: JID = me.JID
        self.connected.set()
        self.pipe.write(
            {
                "event": "connected",
                "jid": Jid2String(jid),
                "phone": f"+{jid.User}",
                "name": me.PushName,
                "paired": self.paired,
            }
        )

    def _on_pair_status(self, _: NewClient, event: PairStatusEv) -> None:
        if event.Error:
            self.pipe.write({"event": "closed", "reason": "pair_failed", "detail": event.Error})

    def _on_message(self, _: NewClient, event: MessageEv) -> None:
        found = wa.inbound(event)
        if found is not None:
            self.pipe.write(found)

    def _on_receipt(self, _: NewClient, event: ReceiptEv) -> None:
        for receipt in wa.receipts(event):
            self.pipe.write(receipt)

    def _closer(self, reason: str) -> Any:
        def closed(_: NewClient, event: Any) -> None:
            self.connected.clear()
            self.pipe.write({"event": "closed", "reason": reason, "detail": str(event)[:200]})

        return closed


def answer(pipe: Pipe, session: Session, request: dict[str, Any]) -> None:
    """Run one command and write its answer."""
    op = request.get("op")
    try:
        if op == "start":
            result = session.start(str(request["store"]), request.get("jid"), request.get("proxy"))
        elif op == "send":
            result = session.send(request)
        elif op == "download":
            result = session.download(str(request["media_id"]))
        elif op == "ping":
            result = session.ping()
        elif op in ("stop", "logout"):
            result = session.finish(logout=op == "logout")
        else:
            raise Failure("unknown_command", f"op: {op!r}", retryable=False)
    except Failure as failure:
        reply = {"ok": False, "error": failure.error, "detail": failure.detail}
        reply["retryable"] = failure.retryable
    except (ValueError, KeyError, TypeError) as error:
        reply = {"ok": False, "error": "bad_request", "detail": str(error), "retryable": False}
    except Exception as error:  # the platform refused (neonize's errors): say so
        detail = f"{type(error).__name__}: {error}"[:500]
        reply = {"ok": False, "error": "platform_error", "detail": detail, "retryable": True}
    else:
        reply = {"ok": True, **result}
    pipe.write({"ref": request.get("ref"), **reply})
    if op == "send" and reply["ok"]:
        # The server has it: ``sent``, reported after the id it is about.
        pipe.write({"event": "receipt", "id": reply["id"], "status": "sent"})
    if op in ("stop", "logout"):
        os._exit(0)  # whatsmeow's threads would hold a normal exit


def main() -> None:
    """Serve the parent's commands until it closes our stdin (or tells us to stop)."""
    # The pipe keeps the real stdout; whatever else prints (the libraries do) goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    # Warnings and worse only: neonize configures INFO, and whatsmeow logs at the level of
    # neonize's own logger (unset, it would log everything).
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("neonize.utils.log").setLevel(logging.WARNING)
    pipe = Pipe(out)
    session = Session(pipe)
    # Not ``with``: its exit would wait for a command stuck in whatsmeow.
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="command")
    for line in sys.stdin:
        try:
            request = json.loads(line)
        except ValueError:
            continue
        if isinstance(request, dict):
            pool.submit(answer, pipe, session, request)
    os._exit(0)  # the parent is gone (or closed our stdin): so is this connection


if __name__ == "__main__":
    main()
