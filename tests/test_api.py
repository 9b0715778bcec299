"""The public endpoints' own checks: only a file uploaded with the request is read."""

from pathlib import Path

import pytest

from imagesearch.errors import QueryError


def test_only_files_in_gradios_upload_folder_count_as_uploads(tmp_path):
    from gradio.utils import get_upload_folder

    from imagesearch.serve.api import upload_path as _upload_path

    inside = Path(get_upload_folder()) / "abc" / "x.png"
    assert _upload_path({"path": str(inside)}) == str(inside.resolve())
    for forged in ["/etc/hostname", f"{get_upload_folder()}/../etc/hostname", str(tmp_path / "x.png"), "", None, 5]:
        with pytest.raises(QueryError):
            _upload_path({"path": forged})
