"""Where things are in this repository, for tests and benchmarks."""

from imagesearch.serve.config import DEMO_ARTIFACTS, REPO  # noqa: F401 - re-exported for tests and benchmarks

# The seed system's 147 real InstructBLIP captions (Fashionpedia val 0..146, no header, `id,description`).
SEED_CSV = REPO / "benchmarks" / "seed_description.csv"
TEST_OUTPUT = REPO / "tests" / "output"  # screenshots and other things worth looking at; ignored by git

