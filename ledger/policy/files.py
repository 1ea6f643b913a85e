"""Reading the policy files: the bundled library, a directory of documents, one reform file.

The only module of the policy layer that touches the file system (:mod:`ledger.policy.parameters`
holds the types and the resolution, with no I/O).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from ledger.errors import PolicyError
from ledger.policy.catalogues import Catalogue, CatalogueFile
from ledger.policy.parameters import PolicyFile, PolicyLibrary, RegionProfile

POLICY_DIR = Path(__file__).parent
"""The bundled files: ``documents/*.yaml`` and ``regions.yaml``."""
CATALOGUE_DIR = POLICY_DIR / "catalogue"


def load_policy_file(path: Path) -> PolicyFile:
    """Read and validate one parameter file, naming the file in any error."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return PolicyFile.model_validate(raw)
    except yaml.MarkedYAMLError as e:
        where = f"line {e.problem_mark.line + 1}: " if e.problem_mark else ""
        msg = f"{path}: not YAML: {where}{e.problem or e.context}"
    except yaml.YAMLError as e:
        msg = f"{path}: not YAML: {e}"
    except ValidationError as e:
        first = e.errors()[0]
        msg = f"{path}: {'.'.join(str(p) for p in first['loc']) or '-'}: {first['msg'].removeprefix('Value error, ')}"
    except (UnicodeDecodeError, ArithmeticError) as e:
        msg = f"{path}: {type(e).__name__}: {e}"
    raise PolicyError(msg)


def load_library(directory: Path = POLICY_DIR) -> PolicyLibrary:
    """Load every document and the region profiles under ``directory``."""
    documents = {}
    for path in sorted((directory / "documents").glob("*.yaml")):
        policy_file = load_policy_file(path)
        if policy_file.document.id != path.stem:
            msg = f"{path}: document id {policy_file.document.id} must match the file name"
            raise PolicyError(msg)
        documents[policy_file.document.id] = policy_file
    try:
        raw = yaml.safe_load((directory / "regions.yaml").read_text(encoding="utf-8"))
        regions = {str(k): RegionProfile.model_validate(v) for k, v in raw.items()}
    except (yaml.YAMLError, ValidationError) as e:
        msg = f"{directory / 'regions.yaml'}: {e}"
        raise PolicyError(msg) from None
    return PolicyLibrary(documents, regions)


@cache
def default_library() -> PolicyLibrary:
    """The library shipped with the package, loaded once per process."""
    return load_library()


def load_catalogue(directory: Path = CATALOGUE_DIR) -> Catalogue:
    """Read and validate every catalogue file, naming the file in any error."""
    files = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            files.append(CatalogueFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))))
        except (yaml.YAMLError, ValidationError) as e:
            msg = f"{path}: {e}"
            raise PolicyError(msg) from None
        if files[-1].catalogue.id != path.stem:
            msg = f"{path}: catalogue id {files[-1].catalogue.id} must match the file name"
            raise PolicyError(msg)
    return Catalogue(files)


@cache
def default_catalogue() -> Catalogue:
    """The catalogues shipped with the package, loaded once per process."""
    return load_catalogue()
