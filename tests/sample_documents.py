"""Small PDF and DOCX files the tests make themselves (no binary fixtures in the repository)."""

from __future__ import annotations

import io


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one page per string (lines split on newlines), in Helvetica."""
    objects = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
               3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"}
    kids = []
    for index, text in enumerate(pages):
        page_id, content_id = 4 + 2 * index, 5 + 2 * index
        kids.append(f"{page_id} 0 R")
        lines = " ".join(f"({_escape(line)}) Tj 0 -16 Td" for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 72 720 Td {lines} ET".encode("latin-1")
        objects[page_id] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>").encode()
        objects[content_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for number in sorted(objects):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_docx(pages: list[list[str]], table: list[list[str]] | None = None) -> bytes:
    """A DOCX with the paragraphs of each page, an explicit page break between pages, and an
    optional table at the end of the last page."""
    import docx

    document = docx.Document()
    for number, paragraphs in enumerate(pages):
        if number:
            document.add_page_break()
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_image(width: int, height: int, kind: str = "PNG") -> bytes:
    """A PNG or JPEG of ``width`` x ``height`` pixels (a two-colour pattern), made with Pillow."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (30, 120, 200))
    for x in range(0, width, 2):
        image.putpixel((x, x * height // max(width, 1)), (250, 250, 20))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()
