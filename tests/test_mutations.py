"""The mutation script (python -m testkit.mutations) stays applicable: each line it breaks is still there, once,
and each test it expects to fail still exists. Running the mutants themselves takes minutes: that is the script."""

import pytest

from testkit.mutations import MUTATIONS
from testkit.paths import REPO


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.name for m in MUTATIONS])
def test_each_mutation_still_finds_its_line_and_its_guarding_test(mutation):
    assert (REPO / mutation.file).read_text(encoding="utf-8").count(mutation.old) == 1
    for test in mutation.tests:
        path, _, name = test.partition("::")
        assert (REPO / path).is_file()
        assert not name or f"def {name}(" in (REPO / path).read_text(encoding="utf-8")


def test_a_mutation_whose_tests_do_not_run_is_an_error_not_a_catch():
    # pytest exits non-zero when the named test is missing (4) or deselected (5): nothing was tried, so nothing caught
    from testkit.mutations import Mutation, run

    first = MUTATIONS[0]
    outcome = run(Mutation("no-test-runs", first.file, first.old, first.old,
                           (f"{first.tests[0].partition('::')[0]}::test_that_was_never_written",)))
    assert outcome["caught"] is False and outcome["error"].startswith("pytest exited 4")
