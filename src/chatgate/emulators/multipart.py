"""``multipart/form-data`` bodies, read as a platform's upload endpoint reads them.

The emulator needs no multipart dependency: the standard library's MIME parser reads a
form once its ``Content-Type`` (which carries the boundary) is put in front of the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class FormPart:
    """One part of a form: a text field, or a file (which has a ``filename``)."""

    name: str
    filename: str | None
    # As the part names it; ``None`` when the part has no Content-Type header of its own.
    content_type: str | None
    content: bytes

    def text(self) -> str:
        """The part as a text field's value."""
        return self.content.decode("utf-8", "replace")


def is_multipart(content_type: str) -> bool:
    """Whether a call's ``Content-Type`` announces a multipart form."""
    return content_type.split(";", 1)[0].strip().lower() == MULTIPART


def read_form(body: bytes, content_type: str) -> list[FormPart]:
    """The named parts of a ``multipart/form-data`` body, in order.

    Raises ``ValueError`` when the body is not a multipart form with a boundary.
    """
    if not is_multipart(content_type) or "boundary=" not in content_type:
        raise ValueError("not a multipart/form-data body with a boundary")
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ValueError("the body has no parts")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        parts.append(
            FormPart(
                name=name,
                filename=part.get_filename(),
                content_type=part.get_content_type() if part.get("content-type") else None,
                content=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts
