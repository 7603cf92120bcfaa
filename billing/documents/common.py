"""What invoices and receipts share: the studio's billing settings, the seller and other
parties as blocks of lines, the logo read from storage, the page box, and the HTML-to-PDF step.

The studio's logo (``BillingSettings.logo``, a key in the object storage) is read here and
embedded as a ``data:`` URI; a missing, oversized or unreadable logo leaves the document
without one (a warning names the document) rather than failing it. The renderer itself
fetches nothing (``billing.documents.pdf``).
"""

from __future__ import annotations

import base64
import functools
import logging
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from billing.documents.writer import Writer
from billing.models import BillingSettings, Invoice
from billing.tax_ids import tax_id_format
from picpick.core.storage import InvalidKey, ObjectNotFound, StorageError, get_storage

logger = logging.getLogger("billing.documents")

_CSS = Path(__file__).resolve().parent.parent / "static" / "billing" / "documents.css"
LOGO_MAX_BYTES = 2 * 1024 * 1024


@functools.cache
def _css() -> str:
    return _CSS.read_text(encoding="utf-8")


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _page_css(writer: Writer) -> str:
    """The page box: the paper of the locale and "Page 1 of 2" in its words."""
    t = writer.t
    return (
        f"@page {{ size: {writer.page_size}; @bottom-right {{ content: "
        f'{_css_string(t["page"])} " " counter(page) " " {_css_string(t["of"])} " " '
        "counter(pages); } }"
    )


def billing_settings(studio_id) -> BillingSettings | None:
    # Read, never made: drawing a document writes nothing.
    return BillingSettings.objects.filter(studio_id=studio_id).first()


def _address_lines(address: Any, *, country: str = "") -> list[str]:
    """An address as lines: typed text (one line each), a list of lines, or the parts
    (``line1``, ``line2``, ``city``, ``region``, ``postal_code``) of a contact."""
    if not address:
        return []
    if isinstance(address, str):
        return [line.strip() for line in address.splitlines() if line.strip()]
    if isinstance(address, list | tuple):
        return [str(line).strip() for line in address if str(line).strip()]
    if isinstance(address, dict):
        get = address.get
        lines = [
            get("line1") or get("address_line1") or "",
            get("line2") or get("address_line2") or "",
        ]
        city, region = get("city") or "", get("region") or ""
        postal = get("postal_code") or get("postcode") or get("zip") or ""
        if (country or get("country") or "").upper() in ("US", "CA", "AU"):
            lines.append(" ".join(part for part in (city, region, postal) if part))
        else:
            lines.extend([" ".join(part for part in (postal, city) if part), region])
        return [str(line).strip() for line in lines if str(line).strip()]
    return [str(address)]


def party(data: dict, writer: Writer) -> dict:
    """A seller or bill-to block from its snapshot (name, address, country, tax id, email)."""
    country = str(data.get("country") or "")
    # The address as one field, or its parts beside the name (a contact's snapshot).
    address = data.get("address") or data
    lines = _address_lines(address, country=country)
    if country:
        lines.append(writer.country(country))
    name = str(data.get("legal_name") or data.get("name") or "")
    tax_id = tax_id_format(country=country, value=str(data.get("tax_id") or ""))
    company = str(data.get("company") or "")
    return {
        "name": name or company,
        "company": company if name and company != name else "",
        "address": lines,
        "email": str(data.get("email") or ""),
        "phone": str(data.get("phone") or ""),
        "tax_id": writer.t["tax_id"].format(value=tax_id) if tax_id else "",
    }


def seller_of(invoice: Invoice | None, studio, settings: BillingSettings | None) -> dict:
    """The studio as the invoice was issued with it, else as the invoice services would write
    it today (a draft, a receipt without an invoice)."""
    snapshot = dict(invoice.seller or {}) if invoice is not None else {}
    if snapshot:
        return snapshot
    from billing.services.invoices.issue import seller_of as seller_today

    return seller_today(studio)


_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _image_type(data: bytes) -> str | None:
    for magic, content_type in _IMAGE_TYPES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return "image/svg+xml"
    return None


def logo_data_uri(*, key: str, document: str) -> str | None:
    """The logo at ``key`` in storage as a ``data:`` URI, or None (a warning naming
    ``document``) when it is missing, too large or not an image."""
    if not key:
        return None
    try:
        with get_storage().open(key=key) as stream:
            data = stream.read(LOGO_MAX_BYTES + 1)
    except (ObjectNotFound, InvalidKey, StorageError, OSError) as exc:
        logger.warning("logo %r of %s not read (%s): drawn without it", key, document, exc)
        return None
    if len(data) > LOGO_MAX_BYTES:
        logger.warning(
            "logo %r of %s is over %d bytes: drawn without it", key, document, LOGO_MAX_BYTES
        )
        return None
    content_type = _image_type(data)
    if content_type is None:
        logger.warning(
            "logo %r of %s is not a PNG, JPEG, GIF, WebP or SVG: drawn without it", key, document
        )
        return None
    return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


def base_context(writer: Writer, *, seller: dict, logo: str | None, footer: str) -> dict:
    return {
        "lang": writer.locale.language,
        "css": mark_safe(_css() + "\n" + _page_css(writer)),  # noqa: S308 (our file, escaped labels)
        "t": writer.t,
        "seller": party(seller, writer),
        "logo": logo,
        "footer": footer,
    }


def render_pdf(template: str, context: dict) -> bytes:
    from billing.documents.pdf import html_to_pdf  # WeasyPrint loads only to draw

    return html_to_pdf(render_to_string(template, context))


def logo_key_of(invoice: Invoice | None, studio, settings: BillingSettings | None) -> str:
    """The logo a document shows: the one its invoice was issued with, else billing's own,
    else the studio's site logo."""
    issued = (invoice.seller or {}).get("logo") if invoice is not None else ""
    return issued or (settings.logo if settings else "") or getattr(studio, "logo_key", "")
