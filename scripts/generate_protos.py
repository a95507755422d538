"""Regenerates generated/ from protos/: grpcio-tools stubs plus mypy-protobuf .pyi.

Usage: python scripts/generate_protos.py [OUT_DIR]   (default: generated)

`make test` runs this into a temporary directory and compares, so the committed
stubs can never drift from the contract.
"""

from __future__ import annotations

import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
BIN = Path(sys.executable).parent
DESCRIPTOR_SET = "awooop/channel_events/v1/channel_events.binpb"


def generate(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    (out / DESCRIPTOR_SET).parent.mkdir(parents=True)
    well_known = str(resources.files("grpc_tools") / "_proto")
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTOS}",
        f"--proto_path={well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
        # The contract with its comments, for reflection: the _pb2 modules keep
        # no comments, and grpcurl describe should show them.
        "--include_source_info",
        f"--descriptor_set_out={out / DESCRIPTOR_SET}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Regular packages, so that the editable install and mypy both find them.
    for directory in [out, *(p for p in out.rglob("*") if p.is_dir())]:
        if directory != out:
            (directory / "__init__.py").touch()


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "generated")
