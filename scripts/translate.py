"""Keep the translated editions in step with the English notebooks.

    python scripts/translate.py status [--lang ko]          # per chapter (and the checkers' messages): translated,
                                                            # missing, stale; exit 1 if not done
    python scripts/translate.py status 05_vgg --details     # which cells, by id
    python scripts/translate.py skeleton 05_vgg             # add an English placeholder for each missing unit
    python scripts/translate.py skeleton exercises          # the same for the exercise checkers' messages
    python scripts/translate.py merge 05_vgg --part p.md    # put the translated entries of p.md into the file
    python scripts/translate.py english 05_vgg --cell ID    # the English units of one cell (all cells without --cell)
    python scripts/translate.py prune 05_vgg                # drop the stale entries (once their cells are translated anew)
    python scripts/translate.py build [--lang ko]           # write book/<lang>/notebooks/*.ipynb from both

A translation file (cnnbook/i18n/<lang>/<chapter>.md) holds one entry per unit, headed
``<!-- KIND CELL-ID en:HASH -->``; `skeleton` writes the English text as the placeholder, and the translator
replaces it. Displayed Markdown ("output" entries) is a template: keep its slots ⟦0⟧, ⟦1⟧... where the numbers go.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnbook.i18n import format_entries, parse_entries  # noqa: E402
from cnnbook.i18n import messages  # noqa: E402
from cnnbook.i18n.notebooks import load_entries, merge, report, skeleton, store_path, translate, units  # noqa: E402


def chapters(names: list[str]) -> list[Path]:
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if names:
        paths = [p for p in paths if p.stem in names or p.stem.split("_")[0] in names]
        if not paths:
            sys.exit(f"no notebook matches {names}")
    return paths


def read(path: Path) -> dict:
    return nbformat.read(path, as_version=4)


def twin_path(path: Path, lang: str) -> Path:
    return ROOT / "book" / lang / "notebooks" / path.name


def exercise_messages(command: str, lang: str, details: bool) -> bool:
    """The checkers' messages (cnnbook/i18n/<lang>/exercises.md): their state, or a skeleton."""
    if command == "skeleton":
        target = store_path(messages.STORE, lang)
        target.write_text(format_entries(messages.skeleton(lang)), encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
        return True
    rep = messages.report(lang)
    print(rep.details() if details else rep.summary())
    return rep.ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["status", "skeleton", "merge", "prune", "build", "english"])
    parser.add_argument("chapters", nargs="*", help="notebook names or numbers (default: all)")
    parser.add_argument("--lang", default="ko")
    parser.add_argument("--part", type=Path, help="merge: the file of translated entries")
    parser.add_argument("--cell", help="english: the cell id whose English units to print")
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--draft", action="store_true", help="build: keep the English where a translation is missing")
    args = parser.parse_args()
    ok = True
    wanted = [c for c in args.chapters if c != messages.STORE]
    if args.command == "prune" and args.chapters == [messages.STORE]:
        stale = {e.en_hash for e in messages.report(args.lang).stale}
        entries = load_entries(messages.STORE, args.lang)
        store_path(messages.STORE, args.lang).write_text(
            format_entries([e for e in entries if e.en_hash not in stale]), encoding="utf-8")
        print(f"{messages.STORE}: {len(stale)} stale entries dropped")
        return 0
    if args.command == "merge" and args.chapters == [messages.STORE]:
        entries, unmatched = merge(messages.STORE, args.lang, parse_entries(args.part.read_text(encoding="utf-8")))
        store_path(messages.STORE, args.lang).write_text(format_entries(entries), encoding="utf-8")
        for e in unmatched:
            print(f"not merged (no entry {e.kind} {e.key} en:{e.en_hash} in the file): check the header")
        print(messages.report(args.lang).summary())
        return 1 if unmatched else 0
    if (not args.chapters or messages.STORE in args.chapters) and args.command in ("status", "skeleton"):
        ok &= exercise_messages(args.command, args.lang, args.details)
        if args.chapters and not wanted:
            return 0 if ok else 1
    for path in chapters(wanted):
        nb = read(path)
        if args.command == "english":
            for u in units(nb):
                if args.cell in (None, u.key):
                    print(f"<!-- {u.kind} {u.key} en:{u.hash} -->\n{u.text}\n")
        elif args.command == "status":
            rep = report(path.stem, nb, args.lang)
            print(rep.details() if args.details else rep.summary())
            ok &= rep.ok
        elif args.command == "merge":
            entries, unmatched = merge(path.stem, args.lang, parse_entries(args.part.read_text(encoding="utf-8")))
            store_path(path.stem, args.lang).write_text(format_entries(entries), encoding="utf-8")
            for e in unmatched:
                print(f"not merged (no entry {e.kind} {e.key} en:{e.en_hash} in the file): check the header")
            ok &= not unmatched
            print(report(path.stem, nb, args.lang).summary())
        elif args.command == "prune":
            stale = {(e.kind, e.key, e.en_hash) for e in report(path.stem, nb, args.lang).stale}
            entries = load_entries(path.stem, args.lang)
            store_path(path.stem, args.lang).write_text(
                format_entries([e for e in entries if (e.kind, e.key, e.en_hash) not in stale]), encoding="utf-8")
            print(f"{path.stem}: {len(stale)} stale entries dropped")
        elif args.command == "skeleton":
            target = store_path(path.stem, args.lang)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(format_entries(skeleton(path.stem, nb, args.lang)), encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
        else:
            out = twin_path(path, args.lang)
            out.parent.mkdir(parents=True, exist_ok=True)
            try:
                twin = translate(nb, path.stem, args.lang, draft=args.draft)
            except ValueError as err:
                print(f"{path.stem}: not built\n{err}")
                ok = False
                continue
            nbformat.write(nbformat.from_dict(twin), out)
            print(f"wrote {out.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
