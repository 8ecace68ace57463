"""The argument-spec checker and the README table generator that `make lint` and `make docs` run."""

import importlib.util
from pathlib import Path

import pytest
import yaml

TOOLS = Path(__file__).resolve().parents[3] / "tools"


def load(name):
    spec = importlib.util.spec_from_file_location(name, TOOLS / ("%s.py" % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_argument_specs = load("check_argument_specs")
gen_role_docs = load("gen_role_docs")


def make_role(tmp_path, defaults, options, name="demo"):
    role = tmp_path / name
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    specs = {"argument_specs": {"main": {"short_description": "x", "options": options}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(specs))
    return role


def test_matching_role_has_no_problems(tmp_path):
    role = make_role(tmp_path, {"demo_port": 80}, {"demo_port": {"type": "int", "default": 80, "description": "Port."}})
    assert check_argument_specs.check_role(role) == []


@pytest.mark.parametrize(
    ("defaults", "options", "expected"),
    [
        ({"demo_x": 1}, {}, "demo_x is in defaults/main.yml but not in meta/argument_specs.yml"),
        ({}, {"demo_x": {"default": 1, "description": "d"}}, "demo_x has a default in argument_specs but not"),
        ({"demo_x": 2}, {"demo_x": {"default": 1, "description": "d"}}, "demo_x default differs"),
        ({"x": 1}, {"x": {"default": 1, "description": "d"}}, "option x lacks the role prefix 'demo_'"),
        ({"demo_x": 1}, {"demo_x": {"default": 1}}, "demo_x has no description"),
    ],
)
def test_disagreements_are_named(tmp_path, defaults, options, expected):
    problems = check_argument_specs.check_role(make_role(tmp_path, defaults, options))
    assert any(expected in problem for problem in problems), problems


def test_missing_specs_file_is_reported(tmp_path):
    (tmp_path / "bare").mkdir()
    assert "meta/argument_specs.yml is missing" in check_argument_specs.check_role(tmp_path / "bare")[0]


def test_readme_table_is_generated_between_markers_and_keeps_the_prose(tmp_path):
    role = make_role(
        tmp_path,
        {"demo_port": 80},
        {
            "demo_port": {"type": "int", "default": 80, "description": "Port | number."},
            "demo_name": {"type": "str", "required": True, "description": ["Name", "of it."]},
        },
    )
    (role / "README.md").write_text("# demo\n\nProse stays.\n")
    readme, text = gen_role_docs.render_readme(role)
    assert readme == role / "README.md"
    assert text.startswith("# demo\n\nProse stays.\n")
    assert "| `demo_port` | int | `80` | Port \\| number. |" in text
    assert "| `demo_name` | str | `(required)` | Name of it. |" in text
    readme.write_text(text.replace("Port \\| number.", "stale"))
    _, regenerated = gen_role_docs.render_readme(role)
    assert regenerated == text


USE = """## Use

```yaml
- hosts: localhost
  roles:
    - role: homelab.observability.demo
      vars:
        demo_port: 8080
```

## Variables
"""


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        ("# demo\n\n## Variables\n", "no usage example"),
        ("# demo\n\n## Use\n\nRun it.\n\n## Variables\n", "no usage example"),
        ("# demo\n\n" + USE.replace("homelab.observability.demo", "homelab.observability.other"),
         "does not run role homelab.observability.demo"),
        ("# demo\n\n" + USE.replace("demo_port", "demo_prot"), "sets undocumented variables: demo_prot"),
        ("# demo\n\n" + USE.replace("demo_port: 8080", "demo_port: [8080"), "is not YAML"),
    ],
)
def test_usage_example_problems_are_named(tmp_path, readme, expected):
    role = make_role(tmp_path, {"demo_port": 80}, {"demo_port": {"type": "int", "default": 80, "description": "Port."}})
    (role / "README.md").write_text(readme)
    problems = gen_role_docs.check_usage(role, {"demo_port"})
    assert len(problems) == 1 and expected in problems[0], problems


def test_usage_example_that_runs_the_role_with_documented_variables_passes(tmp_path):
    role = make_role(tmp_path, {"demo_port": 80}, {"demo_port": {"type": "int", "default": 80, "description": "Port."}})
    (role / "README.md").write_text("# demo\n\n" + USE)
    assert gen_role_docs.check_usage(role, {"demo_port"}) == []
    assert "demo_port: 8080" in gen_role_docs.usage_example(USE.join(["x\n", ""]))
