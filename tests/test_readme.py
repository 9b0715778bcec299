"""The README tells the truth: its commands are the ones CI runs, its API example runs."""

import re

import pytest

from testkit.paths import REPO

README = (REPO / "README.md").read_text()


def _bash_blocks():
    return re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)


def test_front_matter_matches_the_pinned_gradio():
    front = README.split("---")[1]
    pinned = re.search(r"^gradio(?:\[[a-z,]+\])?==(\S+)$", (REPO / "requirements.txt").read_text(), flags=re.M).group(1)
    assert re.search(rf"^sdk_version: {re.escape(pinned)}$", front, flags=re.M)
    assert re.search(r"^sdk: gradio$", front, flags=re.M) and re.search(r"^app_file: app.py$", front, flags=re.M)


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = next(b for b in _bash_blocks() if "pytest" in b)
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()


def test_python_api_example_runs_against_the_app(served, capsys):  # noqa: F811
    url, _, _ = served
    example = re.search(r"## Call it from Python.*?```python\n(.*?)\n```", README, flags=re.S).group(1)
    assert 'Client("http://127.0.0.1:7860/")' in example
    exec(compile(example.replace("http://127.0.0.1:7860/", url), "README.md", "exec"), {})
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("Loaded as API")]
    assert re.match(r"1 0\.\d{3} (strong|fair) scikit-image chelsea /", lines[0])
    assert len(lines) == 10 and "tabby cat" in lines[1]


DOCS = sorted((REPO / "docs").glob("*.md"))


def test_the_readme_is_read_in_five_minutes_and_the_depth_lives_in_docs():
    assert len(README.splitlines()) <= 300
    assert {p.name for p in DOCS} >= {"build.md", "benchmarks.md", "reliability.md", "design.md"}


@pytest.mark.parametrize("page", ["README.md", *(f"docs/{p.name}" for p in DOCS)])
def test_every_link_and_path_points_inside_the_repository(page):
    text = (REPO / page).read_text()
    assert "../shared" not in text and "GUIDE.md" not in text
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (REPO / page).parent.joinpath(target).resolve().exists(), f"{page} links to {target}"
