"""No module imports another module's private name (a leading underscore): what is shared is public."""
from __future__ import annotations

import ast

import pytest
from repo_helpers import DAYS, ROOT


@pytest.mark.parametrize("folder", [*DAYS, "tests", "scripts", "shared_synthetic_data"])
def test_no_private_name_crosses_a_module_boundary(folder):
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith("__"):
                offenders += [f"{path.relative_to(ROOT)}: from {node.module} import {alias.name}"
                              for alias in node.names if alias.name.startswith("_")]
    assert offenders == []
