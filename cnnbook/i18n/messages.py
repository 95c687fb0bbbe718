"""The exercise checkers' messages: found in the source of ``cnnbook.exercises``, translated like displayed prose.

A checker prints ``name: message [Hint: hint]`` through :func:`cnnbook.exercises.say`, which translates each part.
The parts are collected here from the checkers' source: the names, message formats and hints written as string
literals (or f-strings of module constants) in calls and in assignments to ``hint``. Text built at run time from
the reader's answer is put into a translated format (``{got}``), never translated itself.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re

from cnnbook.i18n import Entry, digest, to_template
from cnnbook.i18n.notebooks import Report, Unit, load_entries

STORE = "exercises"
PHRASE_ARGUMENTS = {"name", "hint", "quantity", "source", "what"}
# Positions of the phrase arguments of the generic checkers, for calls that pass them positionally.
POSITIONAL = {"say": (0, 1, 2), "check_range": (3, 4, 5), "_pair_of": (2, 3), "localise": (0,)}
FIELDS = re.compile(r"\{(\w*)(?::[^}]*)?\}")


def _strings(node: ast.AST, namespace: dict) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, namespace) + _strings(node.orelse, namespace)
    if isinstance(node, (ast.JoinedStr, ast.BinOp)):
        try:
            value = eval(compile(ast.Expression(body=node), "<message>", "eval"), dict(namespace))  # noqa: S307
        except Exception:  # built from the reader's answer or local values: nothing fixed to translate
            return []
        return [value] if isinstance(value, str) else []
    return []


def phrases() -> list[str]:
    """Every fixed phrase a checker prints, in source order, without repeats."""
    import cnnbook.exercises as package

    found: list[str] = ["Hint:"]
    modules = [package] + [importlib.import_module(f"{package.__name__}.{m.name}")
                           for m in pkgutil.iter_modules(package.__path__)]
    for module in modules:
        tree = ast.parse(open(module.__file__, encoding="utf-8").read())
        for node in ast.walk(tree):
            nodes: list[ast.AST] = []
            if isinstance(node, ast.Call):
                func = getattr(node.func, "id", getattr(node.func, "attr", ""))
                nodes += [kw.value for kw in node.keywords if kw.arg in PHRASE_ARGUMENTS]
                nodes += [node.args[i] for i in POSITIONAL.get(func, ()) if i < len(node.args)]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "hint" for t in node.targets):
                nodes.append(node.value)
            elif isinstance(node, ast.FunctionDef):  # a phrase argument's default ("run")
                args = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults)) + node.args.defaults
                defaults += node.args.kw_defaults
                nodes += [d for a, d in zip(args, defaults) if d is not None and a.arg in PHRASE_ARGUMENTS]
            for n in nodes:
                found += _strings(n, vars(module))
    return list(dict.fromkeys(p for p in found if p.strip()))


def units() -> list[Unit]:
    out = {}
    for phrase in phrases():
        template, _ = to_template(phrase)
        if re.search(r"[A-Za-z]{2,}", template):
            out.setdefault(digest(template), Unit("message", digest(template), template))
    return list(out.values())


def skeleton(lang: str) -> list[Entry]:
    old = load_entries(STORE, lang)
    have = {e.en_hash for e in old}
    return old + [Entry("message", u.hash, u.hash, u.text) for u in units() if u.hash not in have]


def report(lang: str) -> Report:
    rep = Report(STORE)
    us = units()
    rep.units = len(us)
    entries = {e.en_hash: e for e in load_entries(STORE, lang)}
    for u in us:
        e = entries.get(u.hash)
        if e is None:
            rep.missing.append(u)
        elif e.text.strip() == u.text.strip():
            rep.untranslated.append(u)
        elif sorted(FIELDS.findall(e.text)) != sorted(FIELDS.findall(u.text)) or \
                sorted(re.findall(r"\u27e6\d+\u27e7", e.text)) != sorted(re.findall(r"\u27e6\d+\u27e7", u.text)):
            rep.mismatched.append(f"message {u.hash}: the translation's {{fields}} or number slots differ")
    current = {u.hash for u in us}
    rep.stale += [e for h, e in entries.items() if h not in current]
    return rep


def _pattern(template: str) -> re.Pattern:
    """A regex that reads a printed message back into its fields (the number slots too)."""
    out, last = [], 0
    for m in re.finditer(r"\{(\w+)(?::[^}]*)?\}|\u27e6(\d+)\u27e7", template):
        out.append(re.escape(template[last:m.start()]))
        out.append(f"(?P<{m.group(1)}>.+?)" if m.group(1) else f"(?P<slot{m.group(2)}>\\S+?)")
        last = m.end()
    out.append(re.escape(template[last:]))
    return re.compile("".join(out) + r"\Z", re.S)


def localise_line(line: str, lang: str) -> str:
    """A line a checker printed in English, as ``say`` prints it in ``lang`` (for the committed outputs)."""
    from cnnbook.i18n import localise, slot, templates

    name, sep, rest = line.partition(": ")
    if not sep or not rest:
        return localise(line, lang)
    hint = ""
    if " Hint: " in rest:
        rest, hint = rest.split(" Hint: ", 1)
    table = templates(lang)
    for u in units():
        translated = table.get(u.hash)
        if translated is None or "{" not in u.text and "\u27e6" not in u.text and u.text != rest:
            continue
        m = _pattern(u.text).match(rest)
        if m is None:
            continue
        values = m.groupdict()
        for key in [k for k in values if k.startswith("slot")]:
            translated = translated.replace(slot(int(key[4:])), values.pop(key))
        values = {k: localise(v, lang) for k, v in values.items()}  # phrases put into a format ("this {source}")
        message = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", translated).format(**values)
        line = f"{localise(name, lang)}: {message}"
        return line + (f" {localise('Hint:', lang)} {localise(hint, lang)}" if hint else "")
    return localise(line, lang)
