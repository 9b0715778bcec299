"""Publish step: push a validated artifact set to a Hub dataset repo, within the Hub's limits.

Layout of the repo (why: the README's "Publishing and serving from the Hub"):

    README.md          dataset card; its config names the parquet shards
    manifest.json      the set's manifest (its own files' checksums) + a "published" section with every shard's sha256
    description.csv    embedding.pkl    index.faiss    lexical.npz
    image_locations.npy  where each image lies in the shards, and its sha256 (the Space reads one image with one
                         range read and checks it)
    data/train-NNNNN-<sha256[:16]>.parquet   rows with the images inside, a few hundred MB each

Steps: run the app's own startup checks on the folder (a set the app would
refuse is never sent); write the shards and the published manifest into a
staging folder; check the token can write to the repo; read what the repo
holds at its head; refuse to drop more than 10 % of the published rows
unless asked; plan the commits (build/publishing/plan.py); make them one after
the other, each with ``parent_commit`` = the previous one, so a concurrent
push stops the publish instead of mixing two builds. The sha of the set
commit is printed the moment it lands: that is what the Space pins.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from imagesearch.errors import ArtifactError, ConfigError, build_command
from imagesearch.hub.errors import hub_call

from build.step import Env, Step, add_artifacts
from build.publishing.plan import Limits, Plan, plan_commits
from build.publishing.shards import SHARD_BYTES
from build.publishing.checks import refusals
from build.publishing.tags import move_tag
from build.publishing.staging import Remote, read_remote, stage

log = logging.getLogger(__name__)

STAGING_PREFIX = ".publish-"  # publish stages the repo's files in a hidden folder inside the artifact folder


@dataclass(frozen=True)
class PublishConfig:
    artifacts: Path
    repo: str
    private: bool = False
    dry_run: bool = False
    json: bool = False  # with dry_run: the plan as one JSON object on stdout
    message: str | None = None
    tag: str | None = None
    token: str | None = None
    allow_shrink: bool = False
    allow_renumber: bool = False  # publish even if ids name other items than at the head
    offline: bool = False  # HF_HUB_OFFLINE: a dry run plans against an empty repo
    limits: Limits = Limits()
    shard_bytes: int = SHARD_BYTES


def require_token(token: str | None) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise ArtifactError("no Hugging Face token: set HF_TOKEN or run `hf auth login` with a token that can write")
    return token


def prepare_repo(api, token: str, repo: str, repo_type: str, private: bool, **create) -> None:
    """Refuse a token that cannot write to ``repo`` before anything is uploaded; create the repo if needed."""
    with hub_call("checking the token for", repo):
        who = api.whoami(token=token)
    role = who.get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise ArtifactError(f"{repo}: the token of {who.get('name', '?')} is read-only; create a write token and set HF_TOKEN")
    with hub_call("creating", repo):
        api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True, token=token, **create)
    with hub_call("checking write access to", repo):
        api.auth_check(repo, repo_type=repo_type, token=token, write=True)


def print_plan(plan: Plan, as_json: bool, refused: list[str]) -> None:
    """The plan on stdout; ``refused``: why the real publish would stop (the JSON's "refused", null when it would not)."""
    if as_json:
        print(json.dumps({**plan.as_json(), "refused": "; ".join(refused) or None}, indent=1))
        return
    for number, commit in enumerate(plan.commits, start=1):
        print(f"commit {number} of {len(plan.commits)} ({commit.kind}): {commit.message}")
        for op in commit.operations:
            if op.op == "add":
                print(f"  add    {op.path}  {op.size:,} bytes  sha256 {op.sha256}")
            else:
                print(f"  delete {op.path}{'/ (folder)' if op.folder else ''}")
    uploads = [op for c in plan.commits for op in c.operations if op.op == "add"]
    print(f"dry run: {len(plan.commits)} commits, {len(uploads)} files to upload "
          f"({sum(op.size for op in uploads):,} bytes), {len(plan.unchanged)} already on the Hub; nothing was sent")
    for line in refused:
        print(f"publish would refuse: {line}")


def execute(api, plan: Plan, token: str) -> str | None:
    """Make the planned commits in order, each on top of the previous; return the set commit's sha."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    parent, set_sha = plan.head, None
    for number, commit in enumerate(plan.commits, start=1):
        operations = [CommitOperationAdd(path_in_repo=op.path, path_or_fileobj=str(op.local)) if op.op == "add"
                      else CommitOperationDelete(path_in_repo=op.path + ("/" if op.folder else ""), is_folder=op.folder)
                      for op in commit.operations]
        with hub_call(f"commit {number} of {len(plan.commits)} ({commit.kind}) to", plan.repo):
            parent = api.create_commit(plan.repo, operations, commit_message=commit.message, repo_type="dataset",
                                       parent_commit=parent, token=token).oid
        log.info("commit %d of %d (%s) landed: %s", number, len(plan.commits), commit.kind, parent)
        if commit.kind == "set":
            set_sha = parent
            print(set_sha, flush=True)  # before tags or cleanup: this sha already serves the whole set
    return set_sha


def run_publish(config: PublishConfig, api=None) -> str | None:
    from huggingface_hub import HfApi

    api = api or HfApi()
    folder = Path(config.artifacts)
    if not folder.is_dir():
        raise ArtifactError(f"{folder}: artifact folder not found; build it with {build_command(f'all --artifacts {folder}')}")
    for stale in folder.glob(f"{STAGING_PREFIX}*"):  # a killed publish's staging folder: ours to remove
        log.warning("removing %s, left by a publish that did not finish", stale)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=STAGING_PREFIX, dir=folder) as tmp:
        scratch = Path(tmp)
        staged = stage(folder, scratch, config.repo, config.shard_bytes)
        if config.dry_run:
            remote = Remote(None, {})
            if config.offline:
                log.warning("HF_HUB_OFFLINE=1: planning against an empty repo (what a first publish would send)")
            else:
                try:
                    remote = read_remote(api, config.repo, config.token, scratch)
                except ArtifactError as exc:
                    log.warning("%s; planning against an empty repo", exc)
            token = None
        else:
            token = require_token(config.token)
            prepare_repo(api, token, config.repo, "dataset", config.private)
            remote = read_remote(api, config.repo, token, scratch)
        refused = refusals(config.repo, remote, staged, config.allow_shrink, config.allow_renumber)
        if refused and not config.dry_run:
            raise ArtifactError(refused[0])
        message = config.message or f"Publish {staged.count:,} images ({len(staged.shards)} parquet shards)"
        plan = plan_commits(config.repo, remote.head, staged.shards, staged.set_files, remote.files, message, config.limits)
        if config.dry_run:
            print_plan(plan, config.json, refused)
            if refused:  # the dry run ends as the real run would
                raise ArtifactError(f"publish would refuse: {refused[0]}")
            return None
        sha = execute(api, plan, token)
        if sha is None:  # nothing of the set changed; at most a cleanup ran
            sha = remote.head
            print(sha, flush=True)
            log.info("%s@%s already holds this set; nothing to upload", config.repo, sha)
        if config.tag:
            move_tag(api, config.repo, config.tag, sha, "dataset", token)
    log.info("published %s@%s (%d commits, %d files unchanged)", config.repo, sha, len(plan.commits), len(plan.unchanged))
    print(f"published {staged.count:,} images to {config.repo}@{sha}; serve it with ARTIFACTS_REPO={config.repo} "
          f"ARTIFACTS_REVISION={sha}", file=sys.stderr)
    return sha


def add_publish_arguments(parser) -> None:
    """The flags `publish` and `all --publish` share."""
    parser.add_argument("--tag", default=None, help="move this tag to the new commit (e.g. live)")
    parser.add_argument("--allow-shrink", action="store_true",
                        help="publish even if the set drops more than 10%% of the rows published at the repo's head")
    parser.add_argument("--allow-renumber", action="store_true",
                        help="publish even if an id names another image than at the repo's head (links break)")


def _arguments(parser) -> None:
    add_artifacts(parser)
    parser.add_argument("--repo", required=True, metavar="OWNER/NAME", help="Hub dataset repo")
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument("--dry-run", action="store_true", help="print the commits that would be made; send nothing")
    parser.add_argument("--json", action="store_true", help="with --dry-run: the plan as one JSON object on stdout")
    parser.add_argument("--message", default=None, help="commit message")
    add_publish_arguments(parser)


def _run(args, env: Env) -> None:
    if args.json and not args.dry_run:
        raise ConfigError("--json describes a plan: use it with --dry-run")
    run_publish(PublishConfig(args.artifacts, args.repo, private=args.private, dry_run=args.dry_run, json=args.json,
                              message=args.message, tag=args.tag, token=env.token, allow_shrink=args.allow_shrink, allow_renumber=args.allow_renumber,
                              offline=env.offline))


STEP = Step("publish", "push the artifact set to a Hub dataset repo",
            "Validate the set like the app does, then push it as parquet shards (images inside), the set's files and "
            "a dataset card, in commits of under 100 files; prints the sha of the commit that completes the set. "
            "A rerun resumes.", _arguments, _run)
