"""Reading the YAML files people write by hand (campaign files, import header mappings), with
syntax errors reported as ``file:line:column: what`` and the offending line quoted."""

from __future__ import annotations

from pathlib import Path

import yaml


def yaml_problem(path: Path, exc: yaml.YAMLError, *, what: str) -> str:
    """One line for a YAML error in ``path``: ``campaigns/x.yaml:3:10: campaign file is not
    valid YAML: mapping values are not allowed here (line: 'channel: sms')``.

    ``what`` names the kind of file. The position and the parser's own words come from
    PyYAML's marks (:class:`yaml.MarkedYAMLError`); an error without a mark names the file only."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f"{path}: {what} is not valid YAML: {' '.join(str(exc).split())}"
    mark = exc.problem_mark or exc.context_mark
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    problem = exc.problem or exc.context or "syntax error"
    context = f"; {exc.context}" if exc.context and exc.problem else ""
    lines = str(mark.buffer or "").splitlines() if mark else []
    line = lines[mark.line].strip() if mark and mark.line < len(lines) else ""
    quoted = f" (line: {line!r})" if line else ""
    return f"{where}: {what} is not valid YAML: {problem}{context}{quoted}"
