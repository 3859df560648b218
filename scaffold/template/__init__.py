"""The bundled service template: render it, record a render, merge a newer one into a service.

``scaffold new`` and ``scaffold update`` (top-level modules, the CLI's jobs) use this face.
The parts: ``_bundled`` (where the template is), ``_names`` (the service name rules, shared
with the template's own hook), ``_render`` (a reproducible cookiecutter render), ``_record``
(``.scaffold/template.json``: the answers and the pristine render, the merge base), and
``_merge`` (the three-way merge of one file).

Importing it needs the ``new`` extra (cookiecutter and packaging).
"""

from scaffold.template._bundled import TEMPLATE, template_path
from scaffold.template._merge import Merge, merge_file
from scaffold.template._names import (
    dependency_import_names,
    name_rules,
    package_name,
    validate_service_name,
)
from scaffold.template._record import (
    LEGACY_MANIFEST,
    RECORD,
    TemplateRecord,
    has_record,
    read_record,
    read_tree,
    write_record,
)
from scaffold.template._render import (
    Rendered,
    render,
    scaffold_requirement,
    template_requirements,
)

__all__ = [
    "LEGACY_MANIFEST",
    "RECORD",
    "TEMPLATE",
    "Merge",
    "Rendered",
    "TemplateRecord",
    "dependency_import_names",
    "has_record",
    "merge_file",
    "name_rules",
    "package_name",
    "read_record",
    "read_tree",
    "render",
    "scaffold_requirement",
    "template_path",
    "template_requirements",
    "validate_service_name",
    "write_record",
]
