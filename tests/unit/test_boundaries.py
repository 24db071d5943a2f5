"""docs/architecture.md §1: no service imports another service, and shared/ imports no service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("survey", "outreach", "analytics")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    others = [f"services.{name}" for name in SERVICES if name != service]
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "services" / service).rglob("*.py")
        for module in imported_modules(path)
        if any(module == other or module.startswith(other + ".") for other in others)
    ]
    assert offenders == []


def test_shared_imports_no_service() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "shared").rglob("*.py")
        for module in imported_modules(path)
        if module == "services" or module.startswith("services.")
    ]
    assert offenders == []
