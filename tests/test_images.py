"""Images as the captioner gets them: any mode becomes 8-bit RGB; what cannot be captioned is refused with why."""

import io

import numpy as np
import pytest
from PIL import Image

from imagesearch.models.images import MAX_PIXELS, BadImage, decode, save_thumbnail, to_rgb


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_sixteen_bit_images_are_scaled_to_their_own_range_not_clipped():
    ramp = Image.fromarray(np.tile(np.arange(1000, 1064, dtype=np.uint16), (32, 1)), mode="I;16")
    rgb = np.asarray(to_rgb(ramp))
    assert rgb.dtype == np.uint8 and rgb[0, 0].tolist() == [0, 0, 0] and rgb[0, -1].tolist() == [255, 255, 255]


def test_transparent_pixels_become_white_and_palette_and_cmyk_become_rgb():
    clear = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("P", (32, 32))).mode == "RGB" and to_rgb(Image.new("CMYK", (32, 32))).mode == "RGB"


@pytest.mark.parametrize("data, reason", [
    (b"not an image", "not an image PIL can read"),
    (_png(Image.new("RGB", (1, 1))), "too small (1x1 pixels)"),
    (_png(Image.new("RGB", (64, 64)))[:60], "unreadable"),
])
def test_what_cannot_be_captioned_is_refused_with_the_reason(data, reason):
    with pytest.raises(BadImage, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode(data)


def test_a_header_claiming_too_many_pixels_is_refused_before_decoding():
    side = int(MAX_PIXELS ** 0.5) + 10
    with pytest.raises(BadImage, match="too large"):
        decode(_png(Image.new("1", (side, side))))


def test_a_thumbnail_is_an_rgb_jpeg_within_its_longest_side(tmp_path):
    save_thumbnail(Image.new("RGBA", (1000, 400)), tmp_path / "t.jpg", max_side=100)
    with Image.open(tmp_path / "t.jpg") as saved:
        assert saved.format == "JPEG" and saved.mode == "RGB" and saved.size == (100, 40)


def test_a_photo_shot_sideways_is_decoded_upright_from_its_exif_orientation():
    stored = Image.new("RGB", (80, 40), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 40, 40))  # red on the left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    shown = decode(buffer.getvalue())
    assert shown.size == (40, 80)
    top = shown.getpixel((20, 10))
    assert top[0] > 200 and top[2] < 60  # the stored left (red) is on top once turned clockwise
    assert decode(_png(Image.new("RGB", (80, 40)))).size == (80, 40)  # no tag: as it is


def _bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def test_an_upload_is_decoded_no_larger_than_asked_and_sixteen_bits_are_never_widened_whole():
    import tracemalloc

    ramp = Image.fromarray((np.add.outer(np.arange(3000), np.arange(2000)) * 10).astype(np.uint16))
    data = _bytes(ramp, format="PNG")
    tracemalloc.start()  # numpy's arrays are traced: widening the whole 6 Mpx image would take 24 MB or more
    small = decode(data, max_side=500, max_full_pixels=16_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert small.mode == "RGB" and small.size == (333, 500) and peak < 4 * 2**20
    assert np.asarray(small)[0, 0].tolist() == [0, 0, 0] and np.asarray(small)[-1, -1].tolist()[0] > 240
    jpeg = decode(_bytes(Image.new("RGB", (6000, 4000), (9, 9, 9)), format="JPEG"), max_side=800)
    assert jpeg.size == (800, 533)


def test_a_format_decoded_whole_has_a_lower_pixel_cap_than_a_jpeg_which_shrinks_while_decoding():
    big = Image.new("L", (5000, 4000))
    with pytest.raises(BadImage, match=r"too large \(5000x4000 pixels; up to 16 million for a PNG; a JPEG may have 64"):
        decode(_bytes(big, format="PNG"), max_side=1024, max_full_pixels=16_000_000)
    assert decode(_bytes(big, format="JPEG"), max_side=1024, max_full_pixels=16_000_000).size == (1024, 819)
    assert decode(_bytes(big, format="PNG")).size == (5000, 4000)  # the build's decode keeps its 64 Mpx cap


def _jpeg(size, **options):
    import io

    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 140, 30)).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def test_a_thin_jpeg_draft_cannot_shrink_is_refused_from_its_header():
    from imagesearch.models.images import BadImage, decode

    with pytest.raises(BadImage, match=r"too elongated \(4000x100 pixels; one side may be up to 20 times the other\)"):
        decode(_jpeg((4000, 100)), max_side=256, max_full_pixels=1_000_000)
    assert decode(_jpeg((1500, 100)), max_side=256, max_full_pixels=1_000_000).size == (256, 17)  # 15:1 is fine


def test_a_progressive_jpeg_is_bounded_by_its_full_size_a_baseline_one_by_what_draft_decodes():
    from imagesearch.models.images import BadImage, decode, drafted_size

    with pytest.raises(BadImage, match=r"too large for a progressive JPEG \(2000x2000 pixels; up to 1 million"):
        decode(_jpeg((2000, 2000), progressive=True), max_side=256, max_full_pixels=1_000_000)
    assert drafted_size(2000, 2000, 256) == (500, 500)  # 1/8 would be under 256: 1/4
    assert max(decode(_jpeg((2000, 2000)), max_side=256, max_full_pixels=1_000_000).size) == 256
    assert drafted_size(2000, 1200, 256) == (500, 300)  # the shorter side decides the scale
    with pytest.raises(BadImage, match=r"would be decoded at 2000x1000"):
        decode(_jpeg((2000, 1000)), max_side=600, max_full_pixels=400_000)
