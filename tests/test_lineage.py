"""What a Kedro run read and wrote: dataset items and config files, from Kedro's own
datasets and config loader (kedro-datasets), digests equal to ``sha256sum``'s."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import MemoryDataset, Version
from kedro_datasets.partitions import PartitionedDataset
from kedro_datasets.text import TextDataset

from gitprov.kedro.lineage import config_files, config_section, dataset_item
from gitprov.state.digest import Digests


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return "sha256:" + out.stdout.split()[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "data" / "01_raw").mkdir(parents=True)
    return root


def test_a_local_file_saved_and_loaded_is_recorded_with_its_digest(project: Path) -> None:
    out = TextDataset(filepath=str(project / "data" / "08_reporting" / "out.txt"))
    out.save("the report\n")
    with Digests(None) as digests:
        saved = dataset_item("report", out, project, digests, loaded=False)
        loaded = dataset_item("report", out, project, digests, loaded=True)
    assert saved == {
        "dataset": "report",
        "type": "kedro_datasets.text.text_dataset.TextDataset",
        "path": "data/08_reporting/out.txt",
        "version": None,
        "digest": sha256sum(project / "data" / "08_reporting" / "out.txt"),
        "size": len("the report\n"),
    }
    assert loaded == saved


def test_a_versioned_save_names_the_version_and_its_file(project: Path) -> None:
    version = "2026-11-29T10.00.00.000Z"
    model = TextDataset(
        filepath=str(project / "data" / "06_models" / "model.txt"), version=Version(None, version)
    )
    model.save("weights v1\n")
    with Digests(None) as digests:
        item = dataset_item("model", model, project, digests, loaded=False)
    written = project / "data" / "06_models" / "model.txt" / version / "model.txt"
    assert item["version"] == version
    assert item["path"] == f"data/06_models/model.txt/{version}/model.txt"
    assert item["digest"] == sha256sum(written)


def test_a_partitioned_folder_gets_the_folder_digest(project: Path) -> None:
    parts = PartitionedDataset(path=str(project / "data" / "parts"), dataset="text.TextDataset")
    parts.save({"b": "2\n", "a": "1\n"})
    with Digests(None) as digests:
        item = dataset_item("parts", parts, project, digests, loaded=False)
        assert item["digest"] == digests.of(project / "data" / "parts")
    assert item["path"] == "data/parts"
    assert item["size"] == 4
    listing = subprocess.run(
        ["sha256sum", "a", "b"], cwd=project / "data" / "parts", capture_output=True, check=True
    ).stdout
    assert item["digest"] == "sha256:" + hashlib.sha256(listing).hexdigest()


def test_remote_data_is_a_uri_without_credentials_and_no_digest(project: Path) -> None:
    remote = TextDataset(filepath="memory://user:hunter2@bucket/x.txt")
    outside = TextDataset(filepath=str(project.parent / "elsewhere.txt"))
    (project.parent / "elsewhere.txt").write_text("x")
    with Digests(None) as digests:
        far = dataset_item("far", remote, project, digests, loaded=True)
        away = dataset_item("away", outside, project, digests, loaded=True)
        memory = dataset_item("tmp", MemoryDataset(), project, digests, loaded=False)
        missing = dataset_item(
            "gone", TextDataset(filepath=str(project / "no.txt")), project, digests, loaded=True
        )
    assert far["path"] is not None and far["path"].startswith("memory://")
    assert "hunter2" not in far["path"] and far["digest"] is None
    assert away["path"] == (project.parent / "elsewhere.txt").as_posix()
    assert away["digest"] == sha256sum(project.parent / "elsewhere.txt")
    assert memory["path"] is None and memory["digest"] is None
    assert missing["path"] == "no.txt" and missing["digest"] is None


def test_config_files_read_by_kedro_are_listed_with_digests_never_content(
    project: Path,
) -> None:
    conf = project / "conf"
    files = {
        "base/parameters.yml": "lr: 0.1\n",
        "base/catalog.yml": "x:\n  type: MemoryDataset\n",
        "base/parameters/model.yml": "depth: 3\n",
        "local/parameters.yml": "lr: 0.5\n",
        "local/credentials.yml": "db:\n  password: s3cr3t-value\n",
        "local/.hidden/parameters.yml": "lr: 9\n",
        "base/logging.yml": "version: 1\n",  # read by Kedro's logging, not the loader
        "base/notes.txt": "not config\n",
    }
    for name, text in files.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(text)
    loader = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local")
    assert loader["parameters"]["lr"] == 0.5  # the override Kedro uses
    with Digests(None) as digests:
        listed = config_files(loader, project, digests)
    assert [f["path"] for f in listed] == [
        "conf/base/catalog.yml",
        "conf/base/parameters.yml",
        "conf/base/parameters/model.yml",
        "conf/local/credentials.yml",
        "conf/local/parameters.yml",
    ]
    for entry in listed:
        assert entry["digest"] == sha256sum(project / entry["path"])
    assert "s3cr3t" not in repr(listed)
    with Digests(None) as digests:
        section = config_section(loader, project, digests)
    assert section == {"env": "local", "source": "conf", "files": listed}
    staging = OmegaConfigLoader(str(conf), base_env="base", default_run_env="local", env="prod")
    # a remote source (as a loader built without s3fs installed can still say it): named
    # without its credentials, nothing to hash
    bare = SimpleNamespace(conf_source="s3://key:secret@bucket/conf", env=None)
    with Digests(None) as digests:
        assert config_section(staging, project, digests)["env"] == "prod"
        assert config_section(bare, project, digests) == {
            "env": None,
            "source": "s3://bucket/conf",
            "files": [],
        }
