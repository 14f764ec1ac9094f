"""The type stubs (mef3pool/*.pyi) agree with the code, so they cannot drift.

Every module of the package has a stub.  Each stub is parsed with ast
(never imported) and compared with the live module: every name of the
module's __all__ is in its stub; functions and methods have the same
parameters as inspect.signature gives (names, order, kinds, which have
defaults; every overload of a name); properties are properties or
annotated attributes; classes have the same bases; and the stub names
nothing the module lacks.  The package's re-exports name the objects of
the modules they come from.  Public names also carry a docstring, which
help() shows.
"""
import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import mef3pool

PKG = Path(mef3pool.__file__).parent
MODULES = ["mef3pool"] + sorted(
    f"mef3pool.{m.name}" for m in pkgutil.iter_modules([str(PKG)])
    if m.name != "_core")
# Dunders a stub states when the class defines them; others (__repr__,
# __del__, ...) need no stub.
PROTOCOL = {"__init__", "__enter__", "__exit__", "__call__", "__iter__",
            "__len__", "__getitem__"}


def stub_of(modname):
    mod = importlib.import_module(modname)
    path = Path(mod.__file__).with_suffix(".pyi")
    assert path.is_file(), f"{modname} has no stub ({path.name})"
    return mod, ast.parse(path.read_text(), filename=str(path))


def top_level(tree):
    """name -> node for a stub's top level: defs, classes, assignments,
    and re-exports ("from .m import X as X")."""
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.setdefault(node.target.id, []).append(node)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out.setdefault(t.id, []).append(node)
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.asname == a.name:  # the stub idiom of a re-export
                    out.setdefault(a.name, []).append(node)
    return out


def members(cls_node):
    """name -> nodes of a stub class's body."""
    out = {}
    for node in cls_node.body:
        if isinstance(node, ast.FunctionDef):
            out.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.setdefault(node.target.id, []).append(node)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out.setdefault(t.id, []).append(node)
    return out


def decorators(fn):
    return {d.id if isinstance(d, ast.Name) else getattr(d, "attr", "")
            for d in fn.decorator_list}


def stub_params(fn):
    """[(name, kind, has_default)] of a stub def, as inspect names kinds."""
    a = fn.args
    P = inspect.Parameter
    pos = [(x.arg, P.POSITIONAL_ONLY) for x in a.posonlyargs] + \
          [(x.arg, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    first_default = len(pos) - len(a.defaults)
    out = [(n, k, i >= first_default) for i, (n, k) in enumerate(pos)]
    if a.vararg:
        out.append((a.vararg.arg, P.VAR_POSITIONAL, False))
    out += [(x.arg, P.KEYWORD_ONLY, d is not None)
            for x, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append((a.kwarg.arg, P.VAR_KEYWORD, False))
    return out


def live_params(func):
    return [(p.name, p.kind, p.default is not p.empty)
            for p in inspect.signature(func).parameters.values()]


def spelled(params):
    """[(name, kind, has_default)] as a signature: (self, a, b=..., *, c)."""
    P = inspect.Parameter
    out, star = [], False
    for name, kind, dflt in params:
        if kind == P.VAR_POSITIONAL:
            out.append("*" + name)
            star = True
            continue
        if kind == P.VAR_KEYWORD:
            out.append("**" + name)
            continue
        if kind == P.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        out.append(name + ("=..." if dflt else ""))
    return "(" + ", ".join(out) + ")"


def check_function(where, func, nodes):
    defs = [n for n in nodes if isinstance(n, ast.FunctionDef)]
    assert defs, f"{where}: a function in the code, not in the stub"
    want = live_params(func)
    for d in defs:
        assert stub_params(d) == want, \
            (f"{where}: stub (line {d.lineno}) {spelled(stub_params(d))}"
             f" != code {spelled(want)}")


def class_bases(node):
    return [ast.unparse(b).split(".")[-1].split("[")[0] for b in node.bases]


def stub_member(stub_classes, cls_node, name):
    """A member of a stub class or of its bases in the same stub."""
    found = members(cls_node).get(name)
    if found:
        return found
    for b in class_bases(cls_node):
        if b in stub_classes:
            found = stub_member(stub_classes, stub_classes[b], name)
            if found:
                return found
    return None


def public_members(cls):
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in PROTOCOL:
            continue
        yield name, value


def instance_attributes(cls, source):
    """Names the methods of class `cls` in the module file `source` assign
    as self.NAME (by file: the public classes claim __module__ "mef3pool",
    which misleads inspect.getsource)."""
    if source is None:
        return set()
    tree = next((n for n in ast.walk(ast.parse(Path(source).read_text()))
                 if isinstance(n, ast.ClassDef) and n.name == cls.__name__),
                None)
    if tree is None:
        return set()
    return {t.attr for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
            and t.value.id == "self"}


def check_class(where, cls, node, stub_classes, source=None):
    assert isinstance(node, ast.ClassDef), f"{where}: a class in the code"
    live_bases = [b.__name__ for b in cls.__bases__ if b is not object]
    assert class_bases(node) == live_bases, \
        f"{where}: stub bases {class_bases(node)} != code {live_bases}"
    for name, value in public_members(cls):
        w = f"{where}.{name}"
        nodes = stub_member(stub_classes, node, name)
        assert nodes, f"{w}: in the code, not in the stub"
        if isinstance(value, property):
            assert any(isinstance(n, ast.AnnAssign) or
                       (isinstance(n, ast.FunctionDef) and
                        "property" in decorators(n)) for n in nodes), \
                f"{w}: a property in the code, not in the stub"
        elif isinstance(value, (staticmethod, classmethod)):
            check_function(w, value.__func__, nodes)
        elif inspect.isfunction(value):
            check_function(w, value, nodes)
        elif not callable(value):
            assert any(isinstance(n, (ast.AnnAssign, ast.Assign))
                       for n in nodes), f"{w}: an attribute, not in the stub"
    # Nothing in the stub that the class lacks (an annotated name may be
    # an attribute its methods set on self).
    own = instance_attributes(cls, source)
    for name, nodes in members(node).items():
        assert hasattr(cls, name) or name in own, \
            f"{where}.{name}: in the stub, not in the code"
        for n in nodes:
            if isinstance(n, ast.FunctionDef) and "property" not in \
                    decorators(n) and inspect.isfunction(
                        inspect.getattr_static(cls, name)):
                check_function(f"{where}.{name}",
                               inspect.getattr_static(cls, name), [n])


@pytest.mark.parametrize("modname", MODULES)
def test_stub_matches_module(modname):
    mod, tree = stub_of(modname)
    assert hasattr(mod, "__all__"), f"{modname} has no __all__"
    stub = top_level(tree)
    stub_classes = {k: v[0] for k, v in stub.items()
                    if isinstance(v[0], ast.ClassDef)}
    for name in mod.__all__:
        obj = getattr(mod, name)
        where = f"{modname}.{name}"
        assert name in stub, f"{where}: in __all__, not in the stub"
        node = stub[name][0]
        if isinstance(node, ast.ImportFrom):
            src = importlib.import_module(
                importlib.util.resolve_name("." * node.level + (node.module or ""),
                                            "mef3pool"))
            assert getattr(src, name) is obj, \
                f"{where}: the stub re-exports it from {src.__name__}, the code not"
        elif isinstance(node, ast.Assign):
            target = ast.unparse(node.value)
            assert getattr(mod, target, None) is obj, \
                f"{where}: stub says = {target}"
        elif inspect.isclass(obj):
            check_class(where, obj, node, stub_classes, mod.__file__)
        elif inspect.isfunction(obj):
            check_function(where, obj, stub[name])
    for name, nodes in stub.items():
        if isinstance(nodes[0], (ast.FunctionDef, ast.ClassDef)) and \
                not name.startswith("_"):
            assert hasattr(mod, name), f"{modname}.{name}: in the stub, not in the code"
            assert name in mod.__all__, \
                f"{modname}.{name}: in the stub but not in __all__"


def test_every_module_has_a_stub():
    py = {p.stem for p in PKG.glob("*.py")}
    pyi = {p.stem for p in PKG.glob("*.pyi")}
    assert py - pyi == set(), f"modules without a stub: {sorted(py - pyi)}"
    assert pyi - py == set(), f"stubs without a module: {sorted(pyi - py)}"


def test_public_names_have_docstrings():
    missing = []
    for name in mef3pool.__all__:
        obj = getattr(mef3pool, name)
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for m, v in public_members(obj):
                if m.startswith("_"):
                    continue
                f = v.fget if isinstance(v, property) else v
                if callable(f) and not (getattr(f, "__doc__", "") or "").strip():
                    missing.append(f"{name}.{m}")
    assert not missing, f"no docstring: {missing}"


def test_the_checker_sees_drift(tmp_path):
    """The comparison itself: a stub that lost a parameter, or gained a
    default, or names a method the class lacks, is caught."""
    class C:
        def f(self, a, b=1, *, c):
            """doc"""
    for src in ("class C:\n    def f(self, a, b=..., *, c): ...\n",):
        check_class("C", C, ast.parse(src).body[0], {})
    for bad in ("class C:\n    def f(self, a, *, c): ...\n",
                "class C:\n    def f(self, a=..., b=..., *, c): ...\n",
                "class C:\n    def f(self, a, b=..., c=...): ...\n",
                "class C:\n    def f(self, a, b=..., *, c): ...\n"
                "    def g(self) -> None: ...\n",
                "class C(int):\n    def f(self, a, b=..., *, c): ...\n"):
        with pytest.raises(AssertionError):
            check_class("C", C, ast.parse(bad).body[0], {})
