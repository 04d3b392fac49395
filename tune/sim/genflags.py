"""Writes vllmflags.go: the options `vllm serve` accepts, read from vLLM's source.

    pip download --no-deps vllm==0.33.0 -d /tmp/vllm
    cd /tmp/vllm && mkdir src && cd src && unzip -q ../vllm-0.33.0-*.whl 'vllm/*'
    python3 genflags.py /tmp/vllm/src 0.33.0 > vllmflags.go && gofmt -w vllmflags.go

vLLM builds its parser from config dataclasses, which cannot be imported
without torch and CUDA, so this reads the source instead (ast): every
`add_argument` in EngineArgs/AsyncEngineArgs.add_cli_args and
make_arg_parser, and every field of the frontend Args classes, with the
field's annotation deciding the argparse action the way vLLM's
_compute_kwargs does (bool: BooleanOptionalAction; bool | str | None: an
optional value; list and variadic tuple: nargs "+"; anything else: one value).
"""

import ast
import pathlib
import sys

SRC = pathlib.Path(sys.argv[1])
VERSION = sys.argv[2]


def parse(rel):
    return ast.parse((SRC / rel).read_text(), filename=rel)


# Classes with annotated fields, and module-level aliases, across the tree.
classes, aliases = {}, {}
# Configs, the engine and the frontend hold every type the parser sees.
DIRS = ("config", "engine", "entrypoints", "renderers", "tool_parsers", "utils", "logging_utils", "usage", "inputs", "lora", "multimodal")
for path in sorted(p for d in DIRS for p in SRC.glob(f"vllm/{d}/**/*.py")):
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError:
        continue
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            fields = {}
            for st in node.body:
                if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
                    ann = st.annotation
                    if isinstance(ann, ast.Subscript) and ast.unparse(ann.value).endswith("ClassVar"):
                        continue
                    fields[st.target.id] = ann
            bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
            classes.setdefault(node.name, (bases, fields))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            aliases.setdefault(node.targets[0].id, node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            if "TypeAlias" in ast.unparse(node.annotation):
                aliases.setdefault(node.target.id, node.value)
        elif type(node).__name__ == "TypeAlias":
            aliases.setdefault(node.name.id, node.value)


def all_fields(name, seen=()):
    bases, fields = classes.get(name, ([], {}))
    out = {}
    for b in bases:
        if b != name and b not in seen:
            out.update(all_fields(b, seen + (name,)))
    out.update(fields)
    return out


def members(ann, depth=0):
    """The union members of an annotation, aliases and Annotated/Optional unwrapped."""
    if depth > 8:
        return [ann]
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
        return members(ast.parse(ann.value, mode="eval").body, depth + 1)
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        return members(ann.left, depth + 1) + members(ann.right, depth + 1)
    if isinstance(ann, ast.Subscript):
        head = ast.unparse(ann.value).split(".")[-1]
        elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if head == "Annotated":
            return members(elts[0], depth + 1)
        if head == "Union":
            return [m for e in elts for m in members(e, depth + 1)]
        if head == "Optional":
            return members(elts[0], depth + 1) + [ast.Constant(None)]
        return [ann]
    if isinstance(ann, ast.Name) and ann.id in aliases and ann.id not in classes:
        value = aliases[ann.id]
        if isinstance(value, ast.Call):  # TypeVar, NewType, ...
            return [ann]
        return members(value, depth + 1)
    return [ann]


def head(m):
    if isinstance(m, ast.Subscript):
        return ast.unparse(m.value).split(".")[-1]
    if isinstance(m, ast.Constant) and m.value is None:
        return "None"
    return ast.unparse(m).split(".")[-1]


def kind_of(ann):
    """The argparse action vLLM's _compute_kwargs derives from a field type."""
    heads = [head(m) for m in members(ann)]
    if any(h in classes and h not in ("Literal",) and classes[h][1] and h[0].isupper() and h.endswith("Config") for h in heads):
        return "argOne"  # a config dataclass: one JSON value
    if sorted(set(heads)) == ["None", "bool", "str"]:
        return "argOptional"
    if "bool" in heads:
        return "argBool"
    if "Literal" in heads:
        return "argOne"
    for m in members(ann):
        h = head(m)
        if h in ("tuple", "Tuple"):
            elts = m.slice.elts if isinstance(m.slice, ast.Tuple) else [m.slice]
            if any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in elts):
                return "argList"
            return "argN%d" % len(elts)
        if h in ("list", "List", "set", "Set"):
            return "argList"
    return "argOne"


flags = {}


def add(options, kind, where):
    for o in options:
        flags[o] = (kind, where)


def kwargs_source(call, env):
    """The field annotation behind `**x_kwargs["field"]`, if any."""
    for kw in call.keywords:
        if kw.arg is None:
            v = kw.value
            if isinstance(v, ast.Dict):  # **{**x_kwargs["field"], "default": None}
                v = next((val for key, val in zip(v.keys, v.values) if key is None), v)
            if isinstance(v, ast.Subscript) and isinstance(v.value, ast.Name) and v.value.id in env:
                cls = env[v.value.id]
                field = v.slice.value if isinstance(v.slice, ast.Constant) else None
                return all_fields(cls).get(field)
            if isinstance(v, ast.Name) and v.id in env and isinstance(env[v.id], tuple):
                cls, field = env[v.id]
                return all_fields(cls).get(field)
    return None


def explicit_kind(call):
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    if "action" in kw:
        a = ast.unparse(kw["action"])
        if "BooleanOptionalAction" in a:
            return "argBool"
        if a in ("'store_true'", "'store_false'", '"store_true"', '"store_false"', "'store_const'"):
            return "argNone"
        if a in ("'append'", '"append"'):
            return "argOne"
    if "nargs" in kw:
        n = ast.literal_eval(kw["nargs"])
        return {"?": "argOptional", "+": "argList", "*": "argList"}.get(n, "argN%s" % n)
    return None


def walk_function(fn, where):
    env = {}  # var -> class name, or (class, field)
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            v = node.value
            call = v.value if isinstance(v, ast.Subscript) else v
            if isinstance(call, ast.Call) and ast.unparse(call.func).endswith("get_kwargs") and call.args:
                cls = ast.unparse(call.args[0]).split(".")[-1]
                if isinstance(v, ast.Subscript):
                    env[node.targets[0].id] = (cls, v.slice.value)
                else:
                    env[node.targets[0].id] = cls
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            opts = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-")]
            if not opts:
                continue
            kind = explicit_kind(node)
            if kind is None:
                ann = kwargs_source(node, env)
                kind = kind_of(ann) if ann is not None else "argOne"
            add(opts, kind, where)


def find_function(tree, cls, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and (cls is None or node.name == cls):
            for st in node.body:
                if isinstance(st, ast.FunctionDef) and st.name == name:
                    return st
        if cls is None and isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise SystemExit(f"{cls}.{name} not found")


arg_utils = parse("vllm/engine/arg_utils.py")
walk_function(find_function(arg_utils, "EngineArgs", "add_cli_args"), "EngineArgs")
walk_function(find_function(arg_utils, "AsyncEngineArgs", "add_cli_args"), "AsyncEngineArgs")
cli = parse("vllm/entrypoints/common/cli_args.py")
walk_function(find_function(cli, None, "make_arg_parser"), "serve")
# FrontendArgs.add_cli_args adds every field; _customize_cli_kwargs turns
# middleware into action="append" (one value each time).
for field, ann in all_fields("FrontendArgs").items():
    kind = "argOne" if field in ("middleware", "allowed_origins", "allowed_methods", "allowed_headers",
                                 "disable_access_log_for_endpoints", "lora_modules") else kind_of(ann)
    if field == "lora_modules":
        kind = "argList"
    add(["--" + field.replace("_", "-")], kind, "FrontendArgs")

# Every BooleanOptionalAction also takes --no-X; vLLM registers
# EnableDisableAction for it, which adds --disable-X for --enable-X and back.
for opt, (kind, where) in list(flags.items()):
    if kind != "argBool":
        continue
    flags[opt] = ("argNone", where)
    if not opt.startswith("--"):
        continue
    flags.setdefault("--no-" + opt[2:], ("argNone", where))
    for a, b in (("--enable-", "--disable-"), ("--disable-", "--enable-")):
        if opt.startswith(a):
            flags.setdefault(b + opt[len(a):], ("argNone", where))
    flags[opt] = ("argNone", where)

print(f"// Code generated by genflags.py from the vllm {VERSION} wheel; DO NOT EDIT.\n")
print("package sim\n")
print("// vllmVersion is the vLLM release whose `vllm serve` options, defaults and")
print("// start-up checks the simulator follows.")
print(f'const vllmVersion = "{VERSION}"\n')
print("// vllmOptions is every option string `vllm serve` registers, with the")
print("// number of values it takes.")
print("var vllmOptions = map[string]argKind{")
for opt in sorted(flags):
    print(f'\t"{opt}": {flags[opt][0]},')
print("}")
