"""Deploy step: push the Space's code in one commit and point it at a published artifact set.

The Space gets app.py, the imagesearch package, requirements.txt, README.md
(its YAML front matter configures the Space) and the embedded demo; then its
ARTIFACTS_REPO and ARTIFACTS_REVISION variables are set. Variables are
settings, not files, so they are two API calls after the commit; the Space
restarts on each and serves the pinned set once both are in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError
from imagesearch.hub.errors import hub_call
from imagesearch.serve.config import REPO

from build.step import Step
from build.publish import prepare_repo, require_token
from build.publishing.plan import KEEP_REMOTE

log = logging.getLogger(__name__)

SPACE_FILES = ("app.py", "requirements.txt", "README.md")
MAX_OPERATIONS = 99  # the Hub takes fewer than 100 operations in one commit
SPACE_FOLDERS = (("imagesearch", "*.py"), ("demo", "*"))


@dataclass(frozen=True)
class DeployConfig:
    space: str
    artifacts_repo: str
    revision: str
    private: bool = False
    token: str | None = None


def space_files(root: Path = REPO) -> list[tuple[str, Path]]:
    files = [(name, root / name) for name in SPACE_FILES]
    for folder, pattern in SPACE_FOLDERS:
        files += [(path.relative_to(root).as_posix(), path) for path in sorted((root / folder).rglob(pattern))
                  if path.is_file() and "__pycache__" not in path.parts
                  and not any(part.startswith(".") for part in path.relative_to(root).parts)]  # a killed publish's .publish-*
    return sorted(files)


def run_deploy(config: DeployConfig, api=None) -> str:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = api or HfApi()
    token = require_token(config.token)
    prepare_repo(api, token, config.space, "space", config.private, space_sdk="gradio")
    with hub_call("reading", config.space):
        head = api.repo_info(config.space, repo_type="space", token=token).sha
        remote = set(api.list_repo_files(config.space, repo_type="space", revision=head, token=token))
    files = space_files()
    adds = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path)) for name, path in files]
    deletes = [CommitOperationDelete(path_in_repo=name) for name in sorted(remote - {n for n, _ in files} - KEEP_REMOTE)]
    if len(adds) > MAX_OPERATIONS:
        raise ArtifactError(f"{config.space}: the app is {len(adds)} files, more than the {MAX_OPERATIONS} operations the "
                            "Hub takes in one commit; ship fewer files (the demo's images, say) or deploy by hand")
    room = MAX_OPERATIONS - len(adds)  # the app in one commit; stale files it cannot take go in the next ones
    commits = [adds + deletes[:room]] + [deletes[i:i + MAX_OPERATIONS] for i in range(room, len(deletes), MAX_OPERATIONS)]
    sha = head
    with hub_call("pushing the app to", config.space):
        for number, operations in enumerate(commits):
            message = (f"Deploy, serving {config.artifacts_repo}@{config.revision}" if number == 0 else
                       f"Remove files the app no longer uses, part {number}")
            sha = api.create_commit(config.space, operations, commit_message=message, repo_type="space",
                                    parent_commit=sha, token=token).oid
    print(sha, flush=True)  # before the variables: the code is in place whatever happens next
    with hub_call("setting the variables of", config.space):
        api.add_space_variable(config.space, "ARTIFACTS_REPO", config.artifacts_repo, token=token)
        api.add_space_variable(config.space, "ARTIFACTS_REVISION", config.revision, token=token)
    return sha


def _arguments(parser) -> None:
    parser.add_argument("--space", required=True, metavar="OWNER/NAME", help="the Space repo")
    parser.add_argument("--artifacts-repo", required=True, metavar="OWNER/NAME", help="the dataset repo publish wrote")
    parser.add_argument("--revision", required=True, help="commit sha (or tag) of the artifact set to serve")
    parser.add_argument("--private", action="store_true", help="create the Space private")


STEP = Step("deploy", "push the Space's code and point it at a published set",
            "Push app.py, imagesearch/, requirements.txt, README.md and the demo to a Space in one commit, then set "
            "its ARTIFACTS_REPO and ARTIFACTS_REVISION variables.", _arguments,
            lambda args, env: run_deploy(DeployConfig(args.space, args.artifacts_repo, args.revision, args.private,
                                                      token=env.token)))
