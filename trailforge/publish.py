"""Publishing a verified version to the Hugging Face Hub as one commit, tagged `v<version>`.

The Hub boundary is `huggingface_hub.HfApi`; everything here goes through the few calls listed in
`HubApi`, so tests can record them with a stand-in. The token is never printed, logged or written:
error messages are scrubbed of it before they reach the user.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, cast

from .dataset import listed_files, read_manifest
from .errors import PublishError
from .settings import hub_offline
from .verify import verify
from .write import sha256_file


class HubApi(Protocol):
    """The part of `huggingface_hub.HfApi` that publishing uses."""

    def create_repo(self, repo_id: str, **kwargs: Any) -> Any: ...
    def create_branch(self, repo_id: str, **kwargs: Any) -> Any: ...
    def list_repo_refs(self, repo_id: str, **kwargs: Any) -> Any: ...
    def list_repo_files(self, repo_id: str, **kwargs: Any) -> list[str]: ...
    def hf_hub_download(self, repo_id: str, filename: str, **kwargs: Any) -> str: ...
    def create_commit(self, repo_id: str, operations: Any, **kwargs: Any) -> Any: ...
    def create_tag(self, repo_id: str, **kwargs: Any) -> Any: ...


@dataclass
class PlannedFile:
    path_in_repo: str
    size: int
    sha256: str


@dataclass
class PublishPlan:
    directory: Path
    repo_id: str
    branch: str
    tag: str
    private: bool
    files: list[PlannedFile]

    @property
    def load_hint(self) -> str:
        return f'datasets.load_dataset("{self.repo_id}", revision="{self.tag}")'


@dataclass
class PublishResult:
    plan: PublishPlan
    commit_url: str | None = None
    deleted: list[str] = field(default_factory=list)
    already_published: bool = False
    messages: list[str] = field(default_factory=list)


#: Git's rules for a branch name (`git check-ref-format --branch`), as one pattern.
BRANCH_RE = re.compile(
    r"(?!/|\.|-)(?!.*(?:\.\.|//|@\{|/\.|\.lock$|\.lock/|/$|\.$))[^\s~^:?*\[\\\x00-\x1f\x7f]+"
)


def plan_publish(
    directory: Path, repo_id: str, branch: str = "main", private: bool = False
) -> PublishPlan:
    """What would be sent: exactly the files the manifest lists (card, manifest, stats, shards,
    tokenizer copies); anything else in the folder is never sent (`verify` reports it)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise PublishError(
            f"repo id {repo_id!r} must look like ORG/NAME", hint="e.g. --repo-id my-org/ski-tracks"
        )
    if not BRANCH_RE.fullmatch(branch):
        raise PublishError(
            f"branch {branch!r} is not a valid git branch name",
            hint="e.g. --branch main or --branch v0-drafts: no spaces, '..', '~^:?*[\\' or "
            "leading '/' or '.'",
        )
    files = [
        PlannedFile(name, (directory / name).stat().st_size, sha256_file(directory / name))
        for name in sorted(listed_files(manifest))
        if (directory / name).is_file()
    ]
    return PublishPlan(
        directory=directory,
        repo_id=repo_id,
        branch=branch,
        tag=f"v{manifest['version']}",
        private=private,
        files=files,
    )


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def _hub_error(exc: Exception, action: str, token: str | None) -> PublishError:
    """A Hub failure as a PublishError that says what to do; the token never appears."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    message = _scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, token)
    if type(exc).__name__ == "OfflineModeIsEnabled" or hub_offline():
        return PublishError(
            f"cannot {action}: Hugging Face Hub access is disabled (HF_HUB_OFFLINE)",
            hint="unset HF_HUB_OFFLINE, or use --dry-run to see the plan offline",
        )
    hints = {
        401: "the token is missing or invalid: set HF_TOKEN, pass --token-env VAR, or run "
        "`hf auth login`",
        403: "the token may not write to this repo: use a token with write access to it",
        404: "the repo or branch was not found: check --repo-id and --branch",
        429: "the Hub is rate-limiting: wait a few minutes and publish again (it resumes safely)",
    }
    if status in hints:
        return PublishError(
            f"cannot {action}: the Hub answered {status} ({message})", hint=hints[status]
        )
    if status is not None and status >= 500:
        return PublishError(
            f"cannot {action}: Hub server error {status} ({message})",
            hint="try again later; publishing is safe to repeat",
        )
    return PublishError(
        f"cannot {action}: {message}",
        hint="check your network connection; publishing is safe to repeat",
    )


def _remote_manifest(api: HubApi, repo_id: str, revision: str) -> dict[str, Any] | None:
    try:
        path = api.hf_hub_download(repo_id, "manifest.json", repo_type="dataset", revision=revision)
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:  # the Hub boundary: a missing file or revision means "not there"
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status == 404 or type(exc).__name__ in (
            "EntryNotFoundError",
            "RemoteEntryNotFoundError",
            "RevisionNotFoundError",
            "RepositoryNotFoundError",
        ):
            return None
        raise


def _same_content(remote: dict[str, Any] | None, local: dict[str, Any]) -> bool:
    return (
        remote is not None
        and remote.get("files") == local.get("files")
        and remote.get("inputs_fingerprint") == local.get("inputs_fingerprint")
    )


def publish(
    directory: Path,
    repo_id: str,
    *,
    branch: str = "main",
    private: bool = False,
    dry_run: bool = False,
    token: str | None = None,
    api: HubApi | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PublishResult:
    """Verify a version, then push it to `repo_id` as one commit on `branch`, tagged `v<version>`.

    `dry_run` returns the plan and touches nothing (works offline). Repeating a publish is safe:
    a tag that already holds the same content is a no-op; a tag with other content is refused.
    """
    step = on_step or (lambda _: None)
    plan = plan_publish(directory, repo_id, branch, private)
    step("verifying")
    report = verify(plan.directory)
    if not report.ok:
        failed = [f"{c.name} ({len(c.breaches)})" for c in report.checks if not c.ok]
        raise PublishError(
            f"the version fails verification: {', '.join(failed)}",
            file=plan.directory,
            hint="run `trailforge verify` to see the breaches; "
            "rebuild instead of publishing a damaged version",
        )
    result = PublishResult(plan=plan)
    if dry_run:
        return result
    if api is None:
        from huggingface_hub import HfApi, get_token

        hub = cast(HubApi, HfApi(token=token))  # HfApi's methods take more than HubApi names
        token = token or get_token()  # known only to scrub it from error messages
    else:
        hub = api
    local = read_manifest(plan.directory)
    action = "reach the Hub"
    try:
        action = f"create dataset repo {repo_id}"
        step(action)
        hub.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        action = f"read the tags of {repo_id}"
        tags = {
            t.name for t in getattr(hub.list_repo_refs(repo_id, repo_type="dataset"), "tags", [])
        }
        if plan.tag in tags:
            if _same_content(_remote_manifest(hub, repo_id, plan.tag), local):
                result.already_published = True
                result.messages.append(f"{plan.tag} already holds this content; nothing to do")
                return result
            raise PublishError(
                f"tag {plan.tag} already exists on {repo_id} with other content",
                hint="versions are immutable: bump the version and rebuild",
            )
        if branch != "main":
            action = f"create branch {branch}"
            hub.create_branch(repo_id, branch=branch, repo_type="dataset", exist_ok=True)
        action = f"read the files on {branch}"
        head = _remote_manifest(hub, repo_id, branch)
        if _same_content(head, local):
            result.messages.append(
                f"{branch} already holds this content (an earlier publish was "
                "interrupted before tagging); tagging it"
            )
            revision = branch
        else:
            from huggingface_hub import CommitOperationAdd, CommitOperationDelete

            ours = {f.path_in_repo for f in plan.files}
            existing = hub.list_repo_files(repo_id, repo_type="dataset", revision=branch)
            result.deleted = sorted(p for p in existing if p.startswith("data/") and p not in ours)
            operations: list[Any] = [
                CommitOperationAdd(
                    path_in_repo=f.path_in_repo,
                    path_or_fileobj=str(plan.directory / f.path_in_repo),
                )
                for f in plan.files
            ]
            operations += [CommitOperationDelete(path_in_repo=p) for p in result.deleted]
            action = f"commit {len(plan.files)} files to {repo_id}@{branch}"
            step(action)
            commit = hub.create_commit(
                repo_id,
                operations,
                repo_type="dataset",
                revision=branch,
                commit_message=f"trailforge: {local['name']} {local['version']}",
                commit_description=f"Built by trailforge {local.get('trailforge_version')}; "
                f"inputs fingerprint {local.get('inputs_fingerprint')}.",
            )
            result.commit_url = getattr(commit, "commit_url", None)
            revision = getattr(commit, "oid", None) or branch
        action = f"tag {plan.tag}"
        step(action)
        hub.create_tag(
            repo_id,
            tag=plan.tag,
            revision=revision,
            repo_type="dataset",
            tag_message=f"{local['name']} {local['version']}",
        )
    except PublishError:
        raise
    except Exception as exc:  # the Hub boundary raises HTTP, network and validation errors
        raise _hub_error(exc, action, token) from None
    return result
