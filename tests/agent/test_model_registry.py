import hashlib
import importlib

import pytest

from agent.model_registry import ModelFileError, get_model, load_registry

PART_SIZE = 1000


def make_parts(root, name, count, *, corrupt=None):
    blob = b""
    for n in range(1, count + 1):
        data = bytes([n]) * PART_SIZE
        pkg = root / f"{name}_part{n}" / "data"
        pkg.mkdir(parents=True)
        (pkg.parent / "__init__.py").write_text("raise ImportError('must not be imported')\n")
        (pkg / f"part{n:02d}.bin").write_bytes(b"X" * PART_SIZE if n == corrupt else data)
        blob += data
    return blob


def registry_yaml(name, count, blob):
    return f"""
models:
  - id: {name}
    title: Fake Model
    role: test
    license: MIT
    size: {len(blob)}
    sha256: {hashlib.sha256(blob).hexdigest()}
    extra: models
    parts:
      package: "{name.replace('_', '-')}-part{{n}}"
      module: "{name}_part{{n}}"
      file: "data/part{{n:02d}}.bin"
      count: {count}
      version: "1.0"
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    return root


def test_parts_are_joined_once_and_checked(site, shared_models_dir):
    blob = make_parts(site, "fakegood", 3)
    spec = load_registry(registry_yaml("fakegood", 3, blob))["fakegood"]
    assert spec.installed
    path = spec.resolve()
    assert path.parent == shared_models_dir and path.read_bytes() == blob
    mtime = path.stat().st_mtime_ns
    assert spec.resolve() == path and path.stat().st_mtime_ns == mtime  # not rebuilt
    assert spec.verify() == path


def test_a_truncated_assembled_file_is_rebuilt(site):
    blob = make_parts(site, "faketrunc", 2)
    spec = load_registry(registry_yaml("faketrunc", 2, blob))["faketrunc"]
    path = spec.resolve()
    path.write_bytes(blob[:10])
    assert spec.resolve().read_bytes() == blob


def test_a_missing_part_names_the_package_to_install(site):
    blob = make_parts(site, "fakemiss", 3)
    yaml_text = registry_yaml("fakemiss", 3, blob)
    (site / "fakemiss_part2" / "data" / "part02.bin").unlink()
    spec = load_registry(yaml_text)["fakemiss"]
    assert [p.package for p in spec.missing_parts()] == ["fakemiss-part2"]
    with pytest.raises(ModelFileError, match="fakemiss-part2"):
        spec.resolve()


def test_a_damaged_part_is_caught_and_nothing_half_written_stays(site):
    blob = make_parts(site, "fakebad", 2, corrupt=2)
    spec = load_registry(registry_yaml("fakebad", 2, blob))["fakebad"]
    with pytest.raises(ModelFileError, match=r"damaged.*Reinstall.*fakebad-part1"):
        spec.resolve()
    assert not spec.target_path().exists()
    assert not list(spec.target_path().parent.glob("*.partial"))


def test_the_packaged_registry_names_every_model_the_issue_lists():
    registry = load_registry()
    assert set(registry) == {"qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "smollm2-135m",
                             "gemma3-270m"}
    assert len(registry["qwen2.5-coder-0.5b"].parts) == 6
    assert len(registry["qwen2.5-coder-1.5b"].parts) == 22
    gemma = registry["gemma3-270m"]  # its packages number from 1, their files from 0
    assert [p.file for p in gemma.parts] == [f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}"
                                             for i in range(4)]
    assert "start_of_turn" in gemma.chat_template  # the GGUF carries none
    for spec in registry.values():
        assert len(spec.sha256) == 64 and spec.size > 0 and spec.license


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelFileError, match="smollm2-135m"):
        get_model("gpt-9")


@pytest.mark.real_model
def test_installed_packaged_models_verify_against_their_sha256():
    for model_id in ("smollm2-135m", "qwen2.5-coder-0.5b"):
        spec = get_model(model_id)
        assert spec.installed, f"{model_id} should be installed by the README's set-up"
        assert spec.verify().stat().st_size == spec.size
