"""One-line errors: the first line of a library's message, no object reprs, the build command named one way."""

import io

from PIL import Image, UnidentifiedImageError

from imagesearch.errors import BUILD, build_command, first_line, in_words


def test_first_line_names_the_type_and_cuts_to_one_line_and_a_limit():
    assert first_line(ValueError("bad value\nTraceback noise")) == "ValueError: bad value"
    assert first_line(OSError("x" * 500), limit=10) == "OSError: " + "x" * 10
    assert first_line(KeyError()) == "KeyError"


def test_a_library_message_loses_its_object_reprs():
    try:
        Image.open(io.BytesIO(b"not an image"))
    except UnidentifiedImageError as exc:
        message = in_words(str(exc))
    assert "0x" not in message and "the file" in message


def test_every_message_names_the_build_the_same_way():
    assert BUILD == "python -m build"
    assert build_command("index --artifacts DIR") == "`python -m build index --artifacts DIR`"
