"""What the build tells a person: each library warning once per run, and the command to run next."""

import warnings

from build.messages import next_step, warnings_once


def test_a_warning_raised_by_every_batch_is_shown_once():
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        for run in range(3):
            with warnings_once():
                for _ in range(5):
                    warnings.warn("max_length is ignored (a test's own message)", UserWarning)
                warnings.warn(f"another message, run {run}", UserWarning)
    messages = [str(w.message) for w in shown]
    assert messages.count("max_length is ignored (a test's own message)") == 1
    assert sorted(m for m in messages if m.startswith("another")) == [f"another message, run {run}" for run in range(3)]


def test_each_step_names_the_next_command():
    assert next_step("describe", "set") == "python -m build embed --artifacts set"
    assert next_step("embed", "set") == "python -m build index --artifacts set"
    assert next_step("index", "set").startswith("ARTIFACTS_DIR=set python app.py")
