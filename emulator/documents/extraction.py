"""File bytes -> pages of text, by file type.

Plain text, Markdown, CSV and JSON are read as they are (a form feed, ``\\f``,
starts a new page, as pdftotext writes it); HTML loses its tags, scripts and
styles; PDF goes through pypdf a page at a time; DOCX through python-docx, with
its explicit page breaks as page boundaries and tables as ``a | b`` lines.
A file none of these can read raises ``Unreadable``, which ingestion turns into
the ``parsing_failed`` status.

Every document is read within a ``Budget`` (--max-extracted-mb, --max-zip-ratio, --max-pdf-pages),
checked before the work it bounds: a DOCX's ZIP members are measured from its central directory
before anything is inflated (a "zip bomb" of 1 MB that unpacks to 200 MB of XML is refused in
microseconds), a PDF's page count before its first page is read. Over a budget, the file is
``Unreadable`` with a reason naming the limit and its flag; the server is not affected.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser

MB = 1024 * 1024

TEXT_TYPES = {"txt", "text", "md", "markdown", "csv", "tsv", "json", "jsonl", "log", "rst", "xml", "yaml",
              "yml"}
HTML_TYPES = {"html", "htm", "xhtml"}
SUPPORTED = sorted(TEXT_TYPES | HTML_TYPES | {"pdf", "docx"})


class Unreadable(Exception):
    """No text can be read from the file; the message says why."""


@dataclass(frozen=True)
class Budget:
    """How much work one document may cost (the --max-extracted-mb, --max-zip-ratio and
    --max-pdf-pages settings)."""

    max_extracted_mb: float = 100.0
    max_zip_ratio: float = 100.0
    max_pdf_pages: int = 2000

    @property
    def max_extracted_bytes(self) -> int:
        return int(self.max_extracted_mb * MB)

    def check_text(self, filename: str, size: int) -> None:
        if size > self.max_extracted_bytes:
            raise Unreadable(f"Cannot read {filename!r}: its text is {size / MB:.1f} MB, over the "
                             f"{self.max_extracted_mb:g} MB limit (--max-extracted-mb).")

    def check_zip(self, filename: str, data: bytes) -> None:
        """A DOCX (a ZIP) by its central directory: total compressed and uncompressed sizes, and
        each member's compression ratio, before any member is inflated."""
        try:
            members = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise Unreadable(f"Cannot read {filename!r}: it is not a valid DOCX (ZIP) file "
                             f"({exc}).") from None
        packed = sum(m.compress_size for m in members)
        unpacked = sum(m.file_size for m in members)
        limit = self.max_extracted_bytes
        if packed > limit or unpacked > limit:
            raise Unreadable(f"Cannot read {filename!r}: its parts unpack to {unpacked / MB:.1f} MB, "
                             f"over the {self.max_extracted_mb:g} MB limit (--max-extracted-mb).")
        for member in members:
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > MB and ratio > self.max_zip_ratio:  # small parts compress well anyway
                raise Unreadable(f"Cannot read {filename!r}: its part {member.filename!r} unpacks "
                                 f"{ratio:.0f} times its compressed size, over the limit of "
                                 f"{self.max_zip_ratio:g} (--max-zip-ratio).")

    def check_pages(self, filename: str, pages: int) -> None:
        if pages > self.max_pdf_pages:
            raise Unreadable(f"Cannot read {filename!r}: it has {pages} pages, over the limit of "
                             f"{self.max_pdf_pages} (--max-pdf-pages).")


def extension(filename: str) -> str:
    stem, dot, ext = filename.rpartition(".")
    return ext.lower() if dot and stem else ""


def extract_pages(filename: str, data: bytes, budget: Budget = Budget()) -> Iterator[str]:
    """The text of each page of the file, within ``budget``."""
    total = 0
    for page in _pages(filename, data, budget):
        total += len(page)
        budget.check_text(filename, total)
        yield page


def _pages(filename: str, data: bytes, budget: Budget) -> Iterator[str]:
    kind = extension(filename) or _sniff(data)
    if kind == "pdf":
        yield from _pdf(data, filename, budget)
    elif kind == "docx":
        budget.check_zip(filename, data)
        yield from _docx(data)
    elif kind in HTML_TYPES:
        yield from _html(decode(data, filename)).split("\f")
    elif kind in TEXT_TYPES or (kind == "" and _looks_like_text(data)):
        yield from decode(data, filename).split("\f")
    else:
        raise Unreadable(f"Cannot read {filename!r}: files of type {kind or 'unknown'!r} are not supported "
                         f"(supported: {', '.join(SUPPORTED)}).")


def _sniff(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:4096]:
        return "docx"
    return ""


def _looks_like_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def decode(data: bytes, filename: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise Unreadable(f"Cannot read {filename!r}: it holds binary data, not text.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # the usual other encoding of office text exports


def _pdf(data: bytes, filename: str, budget: Budget) -> Iterator[str]:
    from pypdf import PdfReader  # imported on first use: most emulators never see a PDF

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise Unreadable(f"Cannot read {filename!r}: the PDF is encrypted.")
    budget.check_pages(filename, len(reader.pages))
    for page in reader.pages:
        yield page.extract_text() or ""


def _docx(data: bytes) -> Iterator[str]:
    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            if block.paragraph_format.page_break_before and lines:
                yield "\n".join(lines)
                lines = []
            if block.text.strip():
                lines.append(block.text)
            breaks = [br for br in block._p.iter(qn("w:br")) if br.get(qn("w:type")) == "page"]
            for _ in breaks:
                yield "\n".join(lines)
                lines = []
        else:  # a table: one line per row
            for row in block.rows:
                cells = list(dict.fromkeys(cell.text.strip() for cell in row.cells))  # merged cells repeat
                if any(cells):
                    lines.append(" | ".join(cells))
    yield "\n".join(lines)


_SKIPPED = {"script", "style", "noscript", "template", "svg"}
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header", "footer", "nav",
           "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "title", "dt", "dd", "hr", "main",
           "aside"}


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    lines = (re.sub(r"[ \t\r\x0b]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
