"""Publishing, tested against a recording stand-in for `huggingface_hub.HfApi` (no network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

import trailforge
from trailforge import cli
from trailforge.errors import PublishError
from trailforge.publish import publish

try:  # huggingface_hub builds its HTTP errors on httpx (renamed httpx2 in recent releases)
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older huggingface_hub
    import httpx
from huggingface_hub.errors import HfHubHTTPError

SECRET = "hf_secretTOKENthatMustNeverAppear123"


class RecordingHub:
    """Records every call; `tags`, `files` and `manifests` describe the remote repo."""

    def __init__(self, tags=(), files=(), manifests=None, fail=None):
        self.calls: list[tuple[str, dict]] = []
        self.tags, self.files = list(tags), list(files)
        self.manifests = manifests or {}
        self.fail = fail or {}
        self.tmp = Path(__import__("tempfile").mkdtemp())

    def _record(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if name in self.fail:
            raise self.fail[name]

    def create_repo(self, repo_id, **kw):
        self._record("create_repo", repo_id=repo_id, **kw)

    def create_branch(self, repo_id, **kw):
        self._record("create_branch", repo_id=repo_id, **kw)

    def list_repo_refs(self, repo_id, **kw):
        self._record("list_repo_refs", repo_id=repo_id, **kw)
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags])

    def list_repo_files(self, repo_id, **kw):
        self._record("list_repo_files", repo_id=repo_id, **kw)
        return self.files

    def hf_hub_download(self, repo_id, filename, **kw):
        self._record("hf_hub_download", repo_id=repo_id, filename=filename, **kw)
        manifest = self.manifests.get(kw.get("revision"))
        if manifest is None:
            response = httpx.Response(404, request=httpx.Request("GET", "https://hub/x"))
            raise HfHubHTTPError("404 Client Error: entry not found", response=response)
        path = self.tmp / "manifest.json"
        path.write_text(json.dumps(manifest))
        return str(path)

    def create_commit(self, repo_id, operations, **kw):
        ops = [(type(op).__name__, op.path_in_repo) for op in operations]
        self._record("create_commit", repo_id=repo_id, operations=ops, **kw)
        return SimpleNamespace(
            commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/abc123", oid="abc123"
        )

    def create_tag(self, repo_id, **kw):
        self._record("create_tag", repo_id=repo_id, **kw)

    def names(self):
        return [name for name, _ in self.calls]


@pytest.fixture
def version(mini_build, tmp_path):
    target = tmp_path / "v"
    shutil.copytree(mini_build, target)
    return target


def manifest_of(version):
    return json.loads((version / "manifest.json").read_text())


def test_one_commit_with_every_file_then_a_tag(version):
    hub = RecordingHub(
        files=["README.md", "data/trails/train-00000-of-00003.parquet", "data/old_layout/x.parquet"]
    )
    result = publish(version, "me/ski", api=hub, token=SECRET)
    assert hub.names() == [
        "create_repo",
        "list_repo_refs",
        "hf_hub_download",
        "list_repo_files",
        "create_commit",
        "create_tag",
    ]
    create_repo = hub.calls[0][1]
    assert create_repo == {
        "repo_id": "me/ski",
        "repo_type": "dataset",
        "private": False,
        "exist_ok": True,
    }
    commit = dict(hub.calls)["create_commit"]
    local = sorted(p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file())
    assert sorted(p for op, p in commit["operations"] if op == "CommitOperationAdd") == local
    assert sorted(p for op, p in commit["operations"] if op == "CommitOperationDelete") == [
        "data/old_layout/x.parquet",
        "data/trails/train-00000-of-00003.parquet",
    ]
    assert commit["revision"] == "main" and commit["repo_type"] == "dataset"
    assert commit["commit_message"] == "trailforge: mini 0.0.1"
    assert dict(hub.calls)["create_tag"] == {
        "repo_id": "me/ski",
        "tag": "v0.0.1",
        "revision": "abc123",
        "repo_type": "dataset",
        "tag_message": "mini 0.0.1",
    }
    assert result.commit_url.endswith("/commit/abc123")
    assert result.plan.load_hint == 'datasets.load_dataset("me/ski", revision="v0.0.1")'


def test_other_branch_is_created(version):
    hub = RecordingHub()
    publish(version, "me/ski", api=hub, branch="release", private=True)
    assert (
        "create_branch",
        {"repo_id": "me/ski", "branch": "release", "repo_type": "dataset", "exist_ok": True},
    ) in hub.calls
    assert dict(hub.calls)["create_commit"]["revision"] == "release"
    assert dict(hub.calls)["create_repo"]["private"] is True


def test_same_tag_same_content_is_a_noop(version):
    hub = RecordingHub(tags=["v0.0.1"], manifests={"v0.0.1": manifest_of(version)})
    result = publish(version, "me/ski", api=hub)
    assert result.already_published and "create_commit" not in hub.names()


def test_same_tag_other_content_is_refused(version):
    other = dict(manifest_of(version), inputs_fingerprint="different")
    hub = RecordingHub(tags=["v0.0.1"], manifests={"v0.0.1": other})
    with pytest.raises(PublishError, match="already exists on me/ski with other content"):
        publish(version, "me/ski", api=hub)
    assert "create_commit" not in hub.names() and "create_tag" not in hub.names()


def test_interrupted_publish_is_tagged_on_retry(version):
    hub = RecordingHub(manifests={"main": manifest_of(version)})
    result = publish(version, "me/ski", api=hub)
    assert "create_commit" not in hub.names()
    assert dict(hub.calls)["create_tag"]["revision"] == "main" and result.messages


def test_failing_verify_refuses_and_sends_nothing(version):
    shard = version / "data/trails/train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-10] + b"0123456789")
    hub = RecordingHub()
    with pytest.raises(PublishError, match="fails verification"):
        publish(version, "me/ski", api=hub)
    assert hub.calls == []


@pytest.mark.parametrize(
    "status, hint",
    [
        (401, "HF_TOKEN"),
        (403, "write access"),
        (404, "--repo-id"),
        (429, "rate-limiting"),
        (503, "try again later"),
    ],
)
def test_hub_errors_become_clear_errors_without_the_token(version, status, hint, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    response = httpx.Response(status, request=httpx.Request("POST", "https://hub/api"))
    error = HfHubHTTPError(f"{status} error for token {SECRET}", response=response)
    hub = RecordingHub(fail={"create_commit": error})
    with pytest.raises(PublishError) as info:
        publish(version, "me/ski", api=hub, token=SECRET)
    assert str(status) in info.value.message and hint in info.value.hint
    assert SECRET not in info.value.format()
    assert "create_tag" not in hub.names()


def test_network_down(version, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub = RecordingHub(fail={"create_repo": ConnectionError("Name or service not known")})
    with pytest.raises(PublishError, match="Name or service not known") as info:
        publish(version, "me/ski", api=hub)
    assert "network" in info.value.hint


def test_offline_guard_with_the_real_client(version, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    result = CliRunner().invoke(cli.main, ["publish", str(version), "--repo-id", "me/ski"])
    assert result.exit_code == 2 and "HF_HUB_OFFLINE" in result.output


def test_dry_run_prints_the_plan_offline_and_touches_nothing(version, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", SECRET)
    before = {p: p.read_bytes() for p in version.rglob("*") if p.is_file()}
    result = CliRunner().invoke(
        cli.main, ["publish", str(version), "--repo-id", "me/ski", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "v0.0.1" in result.output and "manifest.json" in result.output
    assert "nothing was sent" in result.output and SECRET not in result.output
    assert {p: p.read_bytes() for p in version.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("branch", ["", "x y", "a..b", "x:y~^", "/x", "x.lock"])
def test_a_branch_git_would_refuse_is_refused_before_anything(version, branch):
    result = CliRunner().invoke(
        cli.main, ["publish", str(version), "--repo-id", "me/ski", "--branch", branch, "--dry-run"]
    )
    assert result.exit_code == 2 and "not a valid git branch name" in result.output


def test_token_env_must_be_set_and_never_printed(version, monkeypatch):
    monkeypatch.delenv("MY_TOKEN", raising=False)
    result = CliRunner().invoke(
        cli.main, ["publish", str(version), "--repo-id", "me/ski", "--token-env", "MY_TOKEN"]
    )
    assert result.exit_code == 2 and "MY_TOKEN is not set" in result.output


def test_no_token_in_any_file_or_output(version, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    publish(version, "me/ski", api=RecordingHub(), token=SECRET)
    for path in version.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes()
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


def test_python_api_and_bad_repo_id(version):
    hub = RecordingHub()
    result = trailforge.publish(version, "me/ski", api=hub)
    assert result.plan.tag == "v0.0.1"
    with pytest.raises(PublishError, match="ORG/NAME"):
        trailforge.publish(version, "just-a-name", api=hub)
