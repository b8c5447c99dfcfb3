"""Photos of requests (``services.photos``): what a phone or an editor wrote into the file
besides the pixels never reaches the stored, public copies."""

from __future__ import annotations

import io

from PIL import Image, ImageCms, PngImagePlugin

from services.photos import PreparedPhoto, photo_prepare
from tests.support import jpeg

PHONE = b"0912 345 678"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator>Nguyen Van A " + PHONE + b"</dc:creator></rdf:Description></rdf:RDF>"
    b"</x:xmpmeta>"
)


def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _png_with_text() -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "Gọi " + PHONE.decode())
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (10, 160, 60)).save(out, format="PNG", pnginfo=text)
    return out.getvalue()


def _stored_copies(prepared: PreparedPhoto) -> list[bytes]:
    return [prepared.display.read(), prepared.thumbnail.read()]


def _assert_pixels_only(data: bytes) -> None:
    """A JPEG with its JFIF header and nothing else: no COM, no APP1 (EXIF, XMP), no APP2
    (ICC) and no other application segment."""
    assert PHONE not in data
    with Image.open(io.BytesIO(data)) as stored:
        assert [marker for marker, _content in stored.applist] == ["APP0"]
        assert stored.applist[0][1].startswith(b"JFIF\x00")
        assert "comment" not in stored.info and "xmp" not in stored.info
        assert "icc_profile" not in stored.info and not stored.getexif()


def test_a_jpeg_comment_xmp_and_icc_profile_do_not_survive_into_the_stored_photo() -> None:
    original = jpeg(comment=b"Lien he " + PHONE, xmp=XMP, icc_profile=_srgb_profile())
    with Image.open(io.BytesIO(original)) as check:  # the test photo does carry them
        assert PHONE in check.info["comment"] and PHONE in check.info["xmp"]
        assert check.info["icc_profile"]
    for data in _stored_copies(photo_prepare(io.BytesIO(original), name="anh.jpg")):
        _assert_pixels_only(data)


def test_png_text_chunks_do_not_survive_into_the_stored_photo() -> None:
    original = _png_with_text()
    with Image.open(io.BytesIO(original)) as check:
        assert PHONE.decode() in check.info["Comment"]
    for data in _stored_copies(photo_prepare(io.BytesIO(original), name="anh.png")):
        _assert_pixels_only(data)
